/* A stand-in for the seeds' Win32 programs (seed 004's C++ writer and reader):
 * the same calls on the same named page-file section, with no header:
 * CreateFileMapping((HANDLE)0xFFFFFFFF, NULL, PAGE_READWRITE, 0, 10 MB, name),
 * MapViewOfFile, and at offset 0 the image record
 * [i32 path_len][path bytes][i32 image_len][image bytes] (little-endian), under
 * the .NET seed's named mutex "testmapmutex". Built with mingw-w64 and run under
 * Wine by .ci/windows against `shm --layout seed` (docs/PROTOCOL.md, "The seeds'
 * layout"). A section lives while a handle is open, so each mode holds it open
 * until a line arrives on stdin, as the seeds' windows stay open.
 *
 *   seed write NAME PATH_TEXT IMAGE_FILE   write the record, print "written", wait
 *   seed read NAME OUT_FILE                create or open, print "ready", wait; then
 *                                          read the record, save its image, print its path
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_LEN (10 * 1024 * 1024)

static void fail(const char *what) {
    fprintf(stderr, "seed: %s failed (error %lu)\n", what, GetLastError());
    exit(1);
}

static void wait_for_line(void) {
    char line[16];
    if (!fgets(line, sizeof line, stdin)) { /* EOF also ends the wait */ }
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: seed write NAME PATH IMAGE | seed read NAME OUT\n"); return 2; }
    HANDLE section = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, SEED_LEN, argv[2]);
    if (!section) fail("CreateFileMapping");
    unsigned char *view = MapViewOfFile(section, FILE_MAP_ALL_ACCESS, 0, 0, SEED_LEN);
    if (!view) fail("MapViewOfFile");
    HANDLE mutex = CreateMutexA(NULL, FALSE, "testmapmutex");
    if (!mutex) fail("CreateMutex");
    setvbuf(stdout, NULL, _IONBF, 0);

    if (strcmp(argv[1], "write") == 0 && argc == 5) {
        FILE *f = fopen(argv[4], "rb");
        if (!f) fail("fopen image");
        fseek(f, 0, SEEK_END);
        long image_len = ftell(f);
        fseek(f, 0, SEEK_SET);
        int path_len = (int)strlen(argv[3]);
        if (8L + path_len + image_len > SEED_LEN) { fprintf(stderr, "seed: record too large\n"); return 1; }
        WaitForSingleObject(mutex, INFINITE);
        memcpy(view, &path_len, 4);
        memcpy(view + 4, argv[3], path_len);
        int len32 = (int)image_len;
        memcpy(view + 4 + path_len, &len32, 4);
        if (fread(view + 8 + path_len, 1, image_len, f) != (size_t)image_len) fail("fread image");
        ReleaseMutex(mutex);
        fclose(f);
        printf("written\n");
        wait_for_line();
    } else if (strcmp(argv[1], "read") == 0) {
        printf("ready\n");
        wait_for_line();
        WaitForSingleObject(mutex, INFINITE);
        int path_len, image_len;
        memcpy(&path_len, view, 4);
        if (path_len < 0 || path_len > SEED_LEN - 8) { ReleaseMutex(mutex); fprintf(stderr, "seed: bad path_len %d\n", path_len); return 1; }
        memcpy(&image_len, view + 4 + path_len, 4);
        if (image_len < 0 || image_len > SEED_LEN - 8 - path_len) { ReleaseMutex(mutex); fprintf(stderr, "seed: bad image_len %d\n", image_len); return 1; }
        FILE *out = fopen(argv[3], "wb");
        if (!out) fail("fopen out");
        fwrite(view + 8 + path_len, 1, image_len, out);
        fclose(out);
        printf("path=%.*s image_len=%d\n", path_len, (const char *)view + 4, image_len);
        ReleaseMutex(mutex);
    } else {
        fprintf(stderr, "seed: unknown mode %s\n", argv[1]);
        return 2;
    }
    UnmapViewOfFile(view);
    CloseHandle(section);
    return 0;
}
