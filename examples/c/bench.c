/* What a call costs from C: a 1920x1080 BGR8 frame sent (shm_mapping_send_pixels)
 * and received into a caller's buffer (shm_mapping_receive_into), and a 48-byte
 * TestData sent and received; the same loops as
 * crates/shm-ffi/examples/bench_rust.rs, which calls shm-core directly.
 * Run by docs/measure_ffi.sh. Usage: bench NAME [FRAMES [STRUCTS]] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm_exchange.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check(ShmStatus status, const char *what) {
    if (status != SHM_OK) {
        fprintf(stderr, "bench: %s: %s\n", what, shm_last_error_message());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int frames = argc > 2 ? atoi(argv[2]) : 300, structs = argc > 3 ? atoi(argv[3]) : 200000;
    ShmMapping *writer = NULL, *reader = NULL;
    check(shm_mapping_create_or_open(argv[1], 16 << 20, &writer), "open");
    check(shm_mapping_open_existing(argv[1], &reader), "open");
    ShmPixelLayout layout = {1920, 1080, 0, SHM_PIXEL_FORMAT_BGR8, 0};
    size_t len = 1920 * 1080 * 3;
    uint8_t *pixels = malloc(len), *buf = malloc(16 << 20);
    for (size_t i = 0; i < len; i++) pixels[i] = (uint8_t)(i * 7);
    double *us = malloc(sizeof(double) * (size_t)frames);
    ShmFrameInfo info;
    for (int i = -10; i < frames; i++) {
        pixels[0] = (uint8_t)i;
        double start = now_us();
        check(shm_mapping_send_pixels(writer, &layout, pixels, len, "", NULL), "send");
        check(shm_mapping_receive_into(reader, buf, 16 << 20, &info), "receive");
        if (i >= 0) us[i] = now_us() - start;
    }
    qsort(us, (size_t)frames, sizeof *us, by_value);
    ShmTestData data = {100, 20, {60, 61, 62, 63, 64, 65, 66, 67, 68, 69}};
    double start = now_us();
    for (int i = 0; i < structs; i++) check(shm_mapping_send_test_data(writer, &data, NULL), "send");
    double send_ns = (now_us() - start) * 1e3 / structs;
    start = now_us();
    for (int i = 0; i < structs; i++) check(shm_mapping_receive_into(reader, buf, 64, &info), "receive");
    double receive_ns = (now_us() - start) * 1e3 / structs;
    printf("{\"side\":\"c\",\"frame_1080p_bgr_p50_us\":%.1f,\"frame_1080p_bgr_p99_us\":%.1f,"
           "\"test_data_send_ns\":%.0f,\"test_data_receive_ns\":%.0f}\n",
           us[frames / 2], us[frames * 99 / 100], send_ns, receive_ns);
    shm_mapping_close(reader);
    shm_mapping_close(writer);
    free(pixels);
    free(buf);
    free(us);
    return 0;
}
