#define _POSIX_C_SOURCE 200809L
/* Every bad input the C API can be handed gets a status and a message, never a
 * crash: null pointers, bad names, too large, wrong kind, closed handles, a
 * frame read after free, abandoned loans; waits honour their timeouts.
 * Run by tests/languages.rs, also under valgrind. Usage: api_errors NAME FILE_PATH
 * (NAME: a mapping name no one uses; FILE_PATH: a path for a file mapping). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm_exchange.h"

static int failures = 0;

/* Checks that `call` returned `want`, and that a failure left a message. */
#define EXPECT(call, want)                                                                  \
    do {                                                                                    \
        ShmStatus got_ = (call);                                                            \
        if (got_ != (want)) {                                                               \
            fprintf(stderr, "FAIL line %d: %s returned %s, expected %s (%s)\n", __LINE__,   \
                    #call, shm_status_name(got_), shm_status_name(want),                    \
                    shm_last_error_message());                                              \
            failures++;                                                                     \
        } else if (got_ != SHM_OK) {                                                        \
            /* The message is this call's: it starts with the function's name. */           \
            const char *message_ = shm_last_error_message();                                \
            size_t name_len_ = strcspn(#call, "(");                                         \
            if (message_ == NULL || strncmp(message_, #call, name_len_) != 0 ||             \
                message_[name_len_] != ':' || strlen(message_) < name_len_ + 10) {          \
                fprintf(stderr, "FAIL line %d: %s: message %s\n", __LINE__, #call, message_); \
                failures++;                                                                 \
            } else {                                                                        \
                printf("%s -> %s: %s\n", #call, shm_status_name(got_), message_);           \
            }                                                                               \
        }                                                                                   \
    } while (0)

#define CHECK(condition)                                                                    \
    do {                                                                                    \
        if (!(condition)) {                                                                 \
            fprintf(stderr, "FAIL line %d: %s\n", __LINE__, #condition);                    \
            failures++;                                                                     \
        }                                                                                   \
    } while (0)

static int32_t fill_then_abandon(void *user_data, uint8_t *payload, size_t len_bytes) {
    (void)user_data;
    memset(payload, 0xAB, len_bytes);
    return 7;
}

static int32_t fill_test_data(void *user_data, uint8_t *payload, size_t len_bytes) {
    if (len_bytes != 48) return 1;
    memcpy(payload, user_data, 48);
    return 0;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: api_errors NAME FILE_PATH\n");
        return 2;
    }
    const char *name = argv[1], *file_path = argv[2];
    ShmMapping *m = NULL, *other = NULL;
    ShmFrame *frame = NULL;
    ShmFrameInfo info;
    uint64_t number = 0;

    /* Versions. */
    CHECK(shm_format_version() == SHM_FORMAT_VERSION);
    CHECK(strlen(shm_library_version()) >= 5);
    CHECK(strcmp(shm_status_name(SHM_ERR_TIMED_OUT), "SHM_ERR_TIMED_OUT") == 0);
    CHECK(strcmp(shm_status_name(999), "SHM_ERR_UNKNOWN") == 0);

    /* Opening: null pointers, bad names, out-of-range capacity, missing, taken. */
    EXPECT(shm_mapping_create_new(NULL, 1 << 20, &m), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_create_new(name, 1 << 20, NULL), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_create_new("../etc/passwd", 1 << 20, &m), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_create_new("a-name-far-longer-than-thirty-bytes", 1 << 20, &m), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_create_new("bad\xff", 1 << 20, &m), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_create_new(name, 100, &m), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_open_existing(name, &m), SHM_ERR_NOT_FOUND);
    CHECK(m == NULL); /* outputs untouched on failure */
    EXPECT(shm_mapping_create_new(name, 1 << 20, &m), SHM_OK);
    CHECK(m != NULL);
    EXPECT(shm_mapping_create_new(name, 1 << 20, &other), SHM_ERR_ALREADY_EXISTS);
    EXPECT(shm_mapping_open_existing(name, &other), SHM_OK);
    EXPECT(shm_mapping_from_file(NULL, 1 << 20, &other), SHM_ERR_INVALID_ARGUMENT);

    ShmMappingInfo mapping_info;
    EXPECT(shm_mapping_info(m, &mapping_info), SHM_OK);
    CHECK(mapping_info.mapping_len_bytes == 1 << 20);
    CHECK(mapping_info.payload_capacity_bytes == (1 << 20) - 4096);
    CHECK(mapping_info.created == 1 && mapping_info.frame_number == 0);
    EXPECT(shm_mapping_info(m, NULL), SHM_ERR_INVALID_ARGUMENT);

    /* A mapping never written: an empty frame, and waits that time out. */
    EXPECT(shm_mapping_receive(other, &frame), SHM_OK);
    EXPECT(shm_frame_info(frame, &info), SHM_OK);
    CHECK(info.kind == SHM_KIND_EMPTY && info.frame_number == 0);
    EXPECT(shm_frame_free(frame), SHM_OK);
    frame = NULL;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    EXPECT(shm_mapping_wait(other, 0, 200, &frame), SHM_ERR_TIMED_OUT);
    CHECK(seconds_since(&start) >= 0.2);
    CHECK(frame == NULL);
    EXPECT(shm_mapping_wait(other, 0, 0, &frame), SHM_ERR_TIMED_OUT);

    /* Sends: null pointers, bad text, bad layouts, bad objects, too large. */
    static const uint8_t jpeg_bytes[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3};
    EXPECT(shm_mapping_send_image(m, "/photos/a.jpg", NULL, 7, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_image(m, "bad path \xc3\x28", jpeg_bytes, 7, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_image(m, "/photos/a.jpg", jpeg_bytes, 7, &number), SHM_OK);
    CHECK(number == 1);
    EXPECT(shm_mapping_send_image(m, NULL, jpeg_bytes, 7, NULL), SHM_OK); /* no path, no number */
    EXPECT(shm_mapping_send_image_file(m, "/no/such/file.png", &number), SHM_ERR_IO);
#ifndef _WIN32 /* a character device; Windows has no such path */
    EXPECT(shm_mapping_send_image_file(m, "/dev/zero", &number), SHM_ERR_INVALID_ARGUMENT);
#endif
    EXPECT(shm_mapping_send_image_file(m, "/", &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_test_data(m, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    size_t big_len = (size_t)mapping_info.payload_capacity_bytes + 1;
    uint8_t *big = calloc(big_len, 1);
    EXPECT(shm_mapping_send_image(m, "", big, big_len, &number), SHM_ERR_TOO_LARGE);
    free(big);
    CHECK(number == 1);
    ShmPixelLayout layout = {.width = 4, .height = 2, .stride_bytes = 0, .pixel_format = SHM_PIXEL_FORMAT_RGBA8};
    uint8_t pixels[32] = {0};
    EXPECT(shm_mapping_send_pixels(m, NULL, pixels, 32, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_pixels(m, &layout, pixels, 31, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    layout.pixel_format = 99;
    EXPECT(shm_mapping_send_pixels(m, &layout, pixels, 32, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    layout.pixel_format = SHM_PIXEL_FORMAT_RGBA8;
    layout.width = 0;
    EXPECT(shm_mapping_send_pixels(m, &layout, pixels, 0, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    layout.width = 4;
    layout.stride_bytes = 8; /* shorter than a row of 16 */
    EXPECT(shm_mapping_send_pixels(m, &layout, pixels, 16, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    layout.stride_bytes = 0;
    /* YUV has planes: not through send_pixels, and send_planes checks them. */
    ShmPixelLayout nv12 = {.width = 4, .height = 2, .stride_bytes = 0, .pixel_format = SHM_PIXEL_FORMAT_NV12};
    EXPECT(shm_mapping_send_pixels(m, &nv12, pixels, 12, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    const uint8_t *planes[2] = {pixels, pixels + 16};
    uint32_t strides[2] = {4, 4};
    EXPECT(shm_mapping_send_planes(m, &nv12, planes, strides, 1, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_planes(m, &nv12, NULL, strides, 2, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_planes(m, &nv12, planes, NULL, 2, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    strides[1] = 3; /* shorter than a chroma row of 4 */
    EXPECT(shm_mapping_send_planes(m, &nv12, planes, strides, 2, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    strides[1] = 4;
    nv12.stride_bytes = 4; /* strides go in plane_stride_bytes */
    EXPECT(shm_mapping_send_planes(m, &nv12, planes, strides, 2, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    nv12.stride_bytes = 0;
    nv12.pixel_format = 99;
    EXPECT(shm_mapping_send_planes(m, &nv12, planes, strides, 2, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    static const uint8_t msgpack_two[] = {0x93, 1, 2, 3, 0x93, 1, 2, 3}; /* two documents */
    static const uint8_t msgpack_cut[] = {0x93, 1}; /* an array of 3 with 1 element */
    EXPECT(shm_mapping_send_object(m, msgpack_two, sizeof msgpack_two, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_object(m, msgpack_cut, sizeof msgpack_cut, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_send_object(m, msgpack_two, 4, &number), SHM_OK);

    /* The frame before the refused sends is still there, whole. */
    EXPECT(shm_mapping_send_image(m, "/photos/a.jpg", jpeg_bytes, 7, &number), SHM_OK);
    EXPECT(shm_mapping_receive(other, &frame), SHM_OK);
    ShmImageRecord record;
    EXPECT(shm_frame_image(frame, &record), SHM_OK);
    CHECK(record.path_len_bytes == 13 && memcmp(record.path, "/photos/a.jpg", 13) == 0);
    CHECK(record.image_len_bytes == 7 && memcmp(record.image, jpeg_bytes, 7) == 0);
    /* Wrong kind, null outputs. */
    ShmTestData data;
    ShmPixels px;
    EXPECT(shm_frame_test_data(frame, &data), SHM_ERR_WRONG_KIND);
    EXPECT(shm_frame_pixels(frame, &px), SHM_ERR_WRONG_KIND);
    ShmPlane plane_out[SHM_MAX_PLANES];
    uint32_t plane_count = 0;
    EXPECT(shm_frame_planes(frame, plane_out, &plane_count), SHM_ERR_WRONG_KIND);
    EXPECT(shm_decode_planes(jpeg_bytes, 7, plane_out, &plane_count), SHM_ERR_CORRUPT);
    EXPECT(shm_frame_image(frame, NULL), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_frame_payload(frame, NULL, NULL), SHM_ERR_INVALID_ARGUMENT);
    /* A frame read after free, a frame freed twice, handles of the wrong type,
     * a made-up handle. */
    /* A live frame is not a mapping, nor a mapping a frame. */
    EXPECT(shm_mapping_info((const ShmMapping *)frame, &mapping_info), SHM_ERR_INVALID_HANDLE);
    CHECK(strstr(shm_last_error_message(), "is a frame, not a mapping") != NULL);
    EXPECT(shm_mapping_close((ShmMapping *)frame), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_frame_free((ShmFrame *)other), SHM_ERR_INVALID_HANDLE);
    CHECK(strstr(shm_last_error_message(), "is a mapping, not a frame") != NULL);
    EXPECT(shm_frame_free(frame), SHM_OK);
    EXPECT(shm_frame_image(frame, &record), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_frame_info(frame, &info), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_frame_free(frame), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_frame_free(NULL), SHM_OK);
    EXPECT(shm_frame_info((const ShmFrame *)m, &info), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_mapping_info((const ShmMapping *)frame, &mapping_info), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_mapping_send_test_data((ShmMapping *)(uintptr_t)0xdeadbeef, &data, NULL), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_mapping_receive(NULL, &frame), SHM_ERR_INVALID_ARGUMENT);

    /* Receiving into a buffer: too small says how much is needed. */
    uint8_t small[8];
    EXPECT(shm_mapping_receive_into(other, small, sizeof small, &info), SHM_ERR_BUFFER_TOO_SMALL);
    CHECK(info.payload_len_bytes == 4 + 13 + 4 + 7);
    EXPECT(shm_mapping_receive_into(other, NULL, 64, &info), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_receive_into(other, small, sizeof small, NULL), SHM_ERR_INVALID_ARGUMENT);
    uint8_t buf[64];
    EXPECT(shm_mapping_receive_into(other, buf, sizeof buf, &info), SHM_OK);
    CHECK(info.kind == SHM_KIND_IMAGE && info.frame_number == number && info.crc_checked == 1);
    EXPECT(shm_decode_image(buf, (size_t)info.payload_len_bytes, &record), SHM_OK);
    CHECK(record.image_len_bytes == 7 && memcmp(record.image, jpeg_bytes, 7) == 0);
    EXPECT(shm_decode_image(buf, 3, &record), SHM_ERR_CORRUPT);
    EXPECT(shm_decode_test_data(buf, 5, &data), SHM_ERR_CORRUPT);
    EXPECT(shm_decode_pixels(buf, (size_t)info.payload_len_bytes, &px), SHM_ERR_CORRUPT);

    /* Waits: a frame already newer returns at once; the next one wakes the
     * waiter; a zero timeout takes a frame already there. */
    EXPECT(shm_mapping_wait_into(other, number - 1, 0, buf, sizeof buf, &info), SHM_OK);
    CHECK(info.frame_number == number);
    clock_gettime(CLOCK_MONOTONIC, &start);
    EXPECT(shm_mapping_wait_into(other, number, 150, buf, sizeof buf, &info), SHM_ERR_TIMED_OUT);
    CHECK(seconds_since(&start) >= 0.15);

    /* Loans: an abandoned one is reported, readers see the frame lost, and the
     * next write replaces it. A null function and an undefined kind are refused. */
    EXPECT(shm_mapping_write_loan(m, SHM_KIND_TEST_DATA, 48, NULL, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_write_loan(m, 0, 48, fill_then_abandon, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    EXPECT(shm_mapping_write_loan(m, 9, 48, fill_then_abandon, NULL, &number), SHM_ERR_INVALID_ARGUMENT);
    uint64_t before = number;
    EXPECT(shm_mapping_write_loan(m, SHM_KIND_TEST_DATA, 48, fill_then_abandon, NULL, &number), SHM_ERR_ABANDONED);
    CHECK(number == before);
    EXPECT(shm_mapping_receive(other, &frame), SHM_ERR_WRITER_DIED);
    ShmTestData sent = {.id = 7, .age = 21, .scores = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}};
    EXPECT(shm_mapping_write_loan(m, SHM_KIND_TEST_DATA, 48, fill_test_data, &sent, &number), SHM_OK);
    EXPECT(shm_mapping_receive(other, &frame), SHM_OK);
    EXPECT(shm_frame_test_data(frame, &data), SHM_OK);
    CHECK(memcmp(&data, &sent, sizeof data) == 0);
    EXPECT(shm_frame_free(frame), SHM_OK);
    EXPECT(shm_mapping_write_loan(m, SHM_KIND_TEST_DATA, (uint64_t)1 << 40, fill_test_data, &sent, &number), SHM_ERR_TOO_LARGE);

    /* Senders: the list holds our name; a short buffer says how long it must be. */
    size_t needed = 0;
    EXPECT(shm_list_senders(NULL, 0, &needed), SHM_ERR_BUFFER_TOO_SMALL);
    CHECK(needed >= strlen(name) + 2);
    /* Other processes (the tests beside this one) may add mappings between the
       two calls: a caller retries with the new length, as the header says. */
    char *list = NULL;
    ShmStatus listed = SHM_ERR_BUFFER_TOO_SMALL;
    for (int attempt = 0; attempt < 100 && listed == SHM_ERR_BUFFER_TOO_SMALL; attempt++) {
        free(list);
        list = malloc(needed);
        listed = shm_list_senders(list, needed, &needed);
    }
    EXPECT(listed, SHM_OK);
    char line[64];
    snprintf(line, sizeof line, "%s\n", name);
    CHECK(strstr(list, line) != NULL);
    free(list);
    EXPECT(shm_list_senders(NULL, 0, NULL), SHM_ERR_INVALID_ARGUMENT);

    /* A file mapping. */
    ShmMapping *file_mapping = NULL;
    EXPECT(shm_mapping_from_file(file_path, 1 << 16, &file_mapping), SHM_OK);
    EXPECT(shm_mapping_send_test_data(file_mapping, &sent, &number), SHM_OK);
    CHECK(number == 1);
    EXPECT(shm_mapping_close(file_mapping), SHM_OK);

    /* Write options: without CRC-32 the reader says so. */
    EXPECT(shm_mapping_set_write_options(m, 0, 100), SHM_OK);
    EXPECT(shm_mapping_send_test_data(m, &sent, &number), SHM_OK);
    EXPECT(shm_mapping_receive_into(other, buf, sizeof buf, &info), SHM_OK);
    CHECK(info.crc_checked == 0 && info.kind == SHM_KIND_TEST_DATA);

    /* Closed handles: every use is an error, closing twice too. */
    EXPECT(shm_mapping_close(m), SHM_OK);
    EXPECT(shm_mapping_send_test_data(m, &sent, &number), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_mapping_receive(m, &frame), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_mapping_close(m), SHM_ERR_INVALID_HANDLE);
    EXPECT(shm_mapping_close(NULL), SHM_OK);
    EXPECT(shm_mapping_close(other), SHM_OK);
    EXPECT(shm_remove(name), SHM_OK);
    EXPECT(shm_remove(name), SHM_ERR_NOT_FOUND);
    EXPECT(shm_remove(NULL), SHM_ERR_INVALID_ARGUMENT);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
