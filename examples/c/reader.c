/* The seeds' reader, in C: waits for each new frame of a mapping and shows
 * what it holds, as the seeds' reader does (the image's path and size, or
 * "Id=100,Age=20,Scores=60,...,69").
 *
 *   reader NAME [COUNT [TIMEOUT_MS [OUT]]]
 *
 * Reads COUNT frames (default 1) newer than the one there when it starts,
 * waiting at most TIMEOUT_MS (default 5000) for each; OUT, if given, receives
 * the last image's bytes (kind 1) or the last pixels' rows (kind 3). Exit
 * status 0, 3 on a timeout, 1 on another error. Build:
 *   cc reader.c -o reader $(pkg-config --cflags --libs shm_exchange)
 */
#include <stdio.h>
#include <stdlib.h>

#include "shm_exchange.h"

static int fail(const char *what, ShmStatus status) {
    fprintf(stderr, "reader: %s: %s: %s\n", what, shm_status_name(status), shm_last_error_message());
    return status == SHM_ERR_TIMED_OUT ? 3 : 1;
}

static int save(const char *out, const void *bytes, size_t len) {
    FILE *file = fopen(out, "wb");
    if (!file || fwrite(bytes, 1, len, file) != len || fclose(file) != 0) {
        perror(out);
        return 1;
    }
    return 0;
}

/* Prints one frame; saves its image or rows to `out` when given. */
static int show(const ShmFrame *frame, const char *out) {
    ShmFrameInfo info;
    ShmStatus status = shm_frame_info(frame, &info);
    if (status != SHM_OK) return fail("info", status);
    printf("frame %llu: ", (unsigned long long)info.frame_number);
    if (info.kind == SHM_KIND_IMAGE) {
        ShmImageRecord image;
        if ((status = shm_frame_image(frame, &image)) != SHM_OK) return fail("image", status);
        printf("image %.*s, %zu bytes\n", (int)image.path_len_bytes, image.path, image.image_len_bytes);
        if (out) return save(out, image.image, image.image_len_bytes);
    } else if (info.kind == SHM_KIND_TEST_DATA) {
        ShmTestData d;
        if ((status = shm_frame_test_data(frame, &d)) != SHM_OK) return fail("test data", status);
        printf("Id=%d,Age=%d,Scores=", d.id, d.age);
        for (int i = 0; i < 10; i++) printf(i ? ",%d" : "%d", d.scores[i]);
        printf("\n");
    } else if (info.kind == SHM_KIND_PIXELS) {
        ShmPixels p;
        if ((status = shm_frame_pixels(frame, &p)) != SHM_OK) return fail("pixels", status);
        printf("pixels %ux%u format %u stride %u, %.*s\n", p.layout.width, p.layout.height,
               p.layout.pixel_format, p.layout.stride_bytes, (int)p.path_len_bytes, p.path);
        /* Where each plane is: one for RGB and grey, two for NV12, three for I420. */
        ShmPlane planes[SHM_MAX_PLANES];
        uint32_t count = 0;
        if ((status = shm_frame_planes(frame, planes, &count)) != SHM_OK) return fail("planes", status);
        for (uint32_t i = 0; i < count; i++)
            printf("plane %u at %lld: %u rows of %llu bytes, stride %u\n", i, (long long)(planes[i].data - p.pixels),
                   planes[i].rows, (unsigned long long)planes[i].row_len_bytes, planes[i].stride_bytes);
        if (out) return save(out, p.pixels, p.pixels_len_bytes);
    } else {
        printf("kind %u, %llu bytes\n", info.kind, (unsigned long long)info.payload_len_bytes);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: reader NAME [COUNT [TIMEOUT_MS [OUT]]]\n");
        return 2;
    }
    int count = argc > 2 ? atoi(argv[2]) : 1;
    long long timeout_ms = argc > 3 ? atoll(argv[3]) : 5000;
    const char *out = argc > 4 ? argv[4] : NULL;

    ShmMapping *mapping = NULL;
    ShmStatus status = shm_mapping_open_existing(argv[1], &mapping);
    if (status != SHM_OK) return fail("open", status);
    ShmMappingInfo mapping_info;
    shm_mapping_info(mapping, &mapping_info);
    printf("ready at frame %llu\n", (unsigned long long)mapping_info.frame_number);
    fflush(stdout);

    uint64_t after = mapping_info.frame_number;
    int result = 0;
    for (int i = 0; i < count && result == 0; i++) {
        ShmFrame *frame = NULL;
        status = shm_mapping_wait(mapping, after, timeout_ms, &frame);
        if (status != SHM_OK) {
            result = fail("wait", status);
            break;
        }
        ShmFrameInfo info;
        shm_frame_info(frame, &info);
        after = info.frame_number;
        result = show(frame, out);
        fflush(stdout);
        shm_frame_free(frame);
    }
    shm_mapping_close(mapping);
    return result;
}
