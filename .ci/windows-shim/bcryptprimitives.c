/* Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std (1.78+) imports
 * for random numbers: a program built for x86_64-pc-windows-gnu then fails to
 * load. .ci/windows builds this stand-in with mingw-w64 and copies it into the Wine
 * prefix only (never shipped): ProcessPrng filled by RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. Real Windows 10+ has its own. */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG len_bytes);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len_bytes) {
    while (len_bytes > 0) {
        ULONG chunk = len_bytes > 0x40000000 ? 0x40000000 : (ULONG)len_bytes;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len_bytes -= chunk;
    }
    return TRUE;
}
