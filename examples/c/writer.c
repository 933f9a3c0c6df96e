/* The seeds' writer, in C: sends an image file with its path, a TestData
 * struct, or a test pattern of raw pixels into a mapping.
 *
 *   writer NAME image FILE        an image record: FILE's bytes and its path
 *   writer NAME struct [ID AGE]   the 48-byte TestData (Id=100,Age=20,Scores=60..69)
 *   writer NAME pixels W H        a W x H BGR8 pattern, rows padded to a multiple of 64
 *   writer NAME loan W H          the same pattern, written in place (a loaned write)
 *   writer NAME nv12|i420|yuy2 W H  a W x H YUV pattern from planes kept apart,
 *                                 as a decoder's frame holds them (rows padded to 64)
 *
 * Prints the frame number it wrote. Build:
 *   cc writer.c -o writer $(pkg-config --cflags --libs shm_exchange)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_exchange.h"

static int fail(const char *what, ShmStatus status) {
    fprintf(stderr, "writer: %s: %s: %s\n", what, shm_status_name(status), shm_last_error_message());
    return 1;
}

/* The test pattern: pixel (x, y) is B = x, G = y, R = x + y (each mod 256);
 * padding bytes are 0. Shared by `pixels` and `loan`. */
static void fill_pattern(uint8_t *rows, uint32_t width, uint32_t height, uint32_t stride) {
    for (uint32_t y = 0; y < height; y++) {
        uint8_t *row = rows + (size_t)y * stride;
        memset(row, 0, stride);
        for (uint32_t x = 0; x < width; x++) {
            row[3 * x + 0] = (uint8_t)x;
            row[3 * x + 1] = (uint8_t)y;
            row[3 * x + 2] = (uint8_t)(x + y);
        }
    }
}

struct pattern {
    uint32_t width, height, stride;
};

static int32_t fill_in_place(void *user_data, uint8_t *pixels, size_t len_bytes) {
    const struct pattern *p = user_data;
    if (len_bytes != (size_t)p->stride * p->height) return 1; /* abandon */
    fill_pattern(pixels, p->width, p->height, p->stride);
    return 0;
}

/* The YUV test pattern: byte x of row y of plane i is x + 2y + 64i (mod 256);
 * padding bytes are 0. Each plane in its own buffer, as libavcodec's AVFrame
 * (data[i], linesize[i]) or a GStreamer video frame holds them. */
static ShmStatus send_yuv(ShmMapping *mapping, uint32_t format, uint32_t width, uint32_t height,
                          uint64_t *frame) {
    uint32_t half_width = (width + 1) / 2, half_height = (height + 1) / 2;
    uint32_t count = 1, row_len[3] = {4 * half_width, 0, 0}, rows[3] = {height, 0, 0};
    if (format != SHM_PIXEL_FORMAT_YUY2) {
        row_len[0] = width;
        count = format == SHM_PIXEL_FORMAT_NV12 ? 2 : 3;
        for (uint32_t i = 1; i < count; i++) {
            row_len[i] = format == SHM_PIXEL_FORMAT_NV12 ? 2 * half_width : half_width;
            rows[i] = half_height;
        }
    }
    uint8_t *planes[3] = {NULL, NULL, NULL};
    uint32_t strides[3];
    ShmStatus status = SHM_OK;
    for (uint32_t i = 0; i < count; i++) {
        strides[i] = (row_len[i] + 63) / 64 * 64;
        planes[i] = calloc((size_t)strides[i] * rows[i], 1);
        if (!planes[i]) status = SHM_ERR_INTERNAL;
        for (uint32_t y = 0; planes[i] && y < rows[i]; y++)
            for (uint32_t x = 0; x < row_len[i]; x++)
                planes[i][(size_t)y * strides[i] + x] = (uint8_t)(x + 2 * y + 64 * i);
    }
    ShmPixelLayout layout = {.width = width, .height = height, .stride_bytes = 0, .pixel_format = format};
    if (status == SHM_OK)
        status = shm_mapping_send_planes(mapping, &layout, (const uint8_t *const *)planes, strides, count,
                                         "c-yuv-pattern", frame);
    for (uint32_t i = 0; i < count; i++) free(planes[i]);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: writer NAME image FILE | struct [ID AGE] | pixels W H | loan W H | nv12|i420|yuy2 W H\n");
        return 2;
    }
    const char *name = argv[1], *what = argv[2];
    ShmMapping *mapping = NULL;
    ShmStatus status = shm_mapping_create_or_open(name, 10 * 1024 * 1024, &mapping);
    if (status != SHM_OK) return fail("open", status);

    uint64_t frame = 0;
    if (strcmp(what, "image") == 0 && argc == 4) {
        status = shm_mapping_send_image_file(mapping, argv[3], &frame);
    } else if (strcmp(what, "struct") == 0) {
        ShmTestData data = {.id = 100, .age = 20};
        for (int i = 0; i < 10; i++) data.scores[i] = 60 + i;
        if (argc == 5) {
            data.id = atoi(argv[3]);
            data.age = atoi(argv[4]);
        }
        status = shm_mapping_send_test_data(mapping, &data, &frame);
    } else if ((strcmp(what, "pixels") == 0 || strcmp(what, "loan") == 0) && argc == 5) {
        struct pattern p = {(uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]), 0};
        p.stride = (3 * p.width + 63) / 64 * 64;
        ShmPixelLayout layout = {
            .width = p.width, .height = p.height, .stride_bytes = p.stride,
            .pixel_format = SHM_PIXEL_FORMAT_BGR8, .capture_unix_nanos = 0};
        if (strcmp(what, "loan") == 0) {
            status = shm_mapping_write_pixels_loan(mapping, &layout, "c-pattern", fill_in_place, &p, &frame);
        } else {
            size_t len = (size_t)p.stride * p.height;
            uint8_t *rows = malloc(len ? len : 1);
            if (!rows) return 1;
            fill_pattern(rows, p.width, p.height, p.stride);
            status = shm_mapping_send_pixels(mapping, &layout, rows, len, "c-pattern", &frame);
            free(rows);
        }
    } else if ((strcmp(what, "nv12") == 0 || strcmp(what, "i420") == 0 || strcmp(what, "yuy2") == 0) &&
               argc == 5) {
        uint32_t format = what[0] == 'n' ? SHM_PIXEL_FORMAT_NV12
                          : what[0] == 'i' ? SHM_PIXEL_FORMAT_I420
                                           : SHM_PIXEL_FORMAT_YUY2;
        status = send_yuv(mapping, format, (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]), &frame);
    } else {
        fprintf(stderr, "writer: unknown command %s\n", what);
        shm_mapping_close(mapping);
        return 2;
    }
    if (status != SHM_OK) {
        fail(what, status);
        shm_mapping_close(mapping);
        return 1;
    }
    printf("sent frame %llu\n", (unsigned long long)frame);
    shm_mapping_close(mapping);
    return 0;
}
