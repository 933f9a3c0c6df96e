// The C++ wrapper (shm_exchange.hpp): RAII handles, views, exceptions with the
// library's message, loans whose exceptions are rethrown. Run by
// tests/languages.rs. Usage: wrapper_test NAME IMAGE_FILE
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "shm_exchange.hpp"

static int failures = 0;
#define CHECK(condition)                                                      \
    do {                                                                      \
        if (!(condition)) {                                                   \
            std::fprintf(stderr, "FAIL line %d: %s\n", __LINE__, #condition); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

// Runs `body`, which must throw shm::Error with `status`.
template <class Body>
static void expect_error(int line, ShmStatus status, Body body) {
    try {
        body();
        std::fprintf(stderr, "FAIL line %d: no exception\n", line);
        failures++;
    } catch (const shm::Error &e) {
        if (e.status() != status || std::strlen(e.what()) < 10) {
            std::fprintf(stderr, "FAIL line %d: %s: %s\n", line, shm_status_name(e.status()), e.what());
            failures++;
        } else {
            std::printf("%s: %s\n", shm_status_name(e.status()), e.what());
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: wrapper_test NAME IMAGE_FILE\n");
        return 2;
    }
    const std::string name = argv[1];
    std::ifstream file(argv[2], std::ios::binary);
    const std::vector<std::uint8_t> photo((std::istreambuf_iterator<char>(file)), {});
    CHECK(photo.size() > 1000);

    expect_error(__LINE__, SHM_ERR_NOT_FOUND, [&] { shm::Mapping::open_existing(name); });
    expect_error(__LINE__, SHM_ERR_INVALID_ARGUMENT, [&] { shm::Mapping::create_new("no/slash"); });
    {
        auto writer = shm::Mapping::create_new(name, 8 << 20);
        auto reader = shm::Mapping::open_existing(name);
        CHECK(reader.info().created == 0 && writer.info().created == 1);
        expect_error(__LINE__, SHM_ERR_TIMED_OUT, [&] { reader.wait(0, std::chrono::milliseconds(50)); });

        // An image with its path, byte-exact.
        std::uint64_t n = writer.send_image("/photos/grace.jpg", photo.data(), photo.size());
        shm::Frame frame = reader.wait(0, std::chrono::milliseconds(5000));
        CHECK(frame.number() == n && frame.kind() == SHM_KIND_IMAGE);
        shm::ImageRecord image = frame.image();
        CHECK(image.path == "/photos/grace.jpg");
        CHECK(std::vector<std::uint8_t>(image.image.begin(), image.image.end()) == photo);
        expect_error(__LINE__, SHM_ERR_WRONG_KIND, [&] { frame.test_data(); });

        // Frames move; the moved-from one holds nothing.
        shm::Frame moved = std::move(frame);
        CHECK(moved.number() == n);
        CHECK(frame.handle() == nullptr);  // NOLINT: moved from on purpose

        // A loaned pixels write from a lambda.
        ShmPixelLayout layout{3, 2, 12, SHM_PIXEL_FORMAT_BGR8, 42};
        // A named (const) callable, as well as temporaries below.
        const auto counting = [](std::uint8_t *rows, std::size_t len) {
            for (std::size_t i = 0; i < len; i++) rows[i] = static_cast<std::uint8_t>(i);
        };
        n = writer.write_pixels(layout, "loaned", counting);
        shm::Frame pixels_frame = reader.receive();
        shm::Pixels pixels = pixels_frame.pixels();
        CHECK(pixels_frame.number() == n);
        CHECK(pixels.layout.width == 3 && pixels.layout.stride_bytes == 12);
        CHECK(pixels.layout.capture_unix_nanos == 42 && pixels.path == "loaned");
        CHECK(pixels.pixels.size == 24 && pixels.pixels.data[23] == 23);
        CHECK(pixels_frame.planes().size() == 1 && pixels_frame.planes()[0].stride_bytes == 12);

        // NV12 from two planes kept apart, with padded rows: read back packed.
        std::vector<std::uint8_t> luma(8 * 3, 1), chroma(8 * 2, 2);
        ShmPixelLayout nv12{5, 3, 0, SHM_PIXEL_FORMAT_NV12, 0};
        n = writer.send_planes(nv12, {luma.data(), chroma.data()}, {8, 8}, "nv12");
        shm::Frame nv12_frame = reader.receive();
        std::vector<ShmPlane> planes = nv12_frame.planes();
        CHECK(nv12_frame.number() == n && planes.size() == 2);
        CHECK(planes[0].rows == 3 && planes[0].row_len_bytes == 5 && planes[0].stride_bytes == 5);
        CHECK(planes[1].rows == 2 && planes[1].row_len_bytes == 6 && planes[1].data[5] == 2);
        expect_error(__LINE__, SHM_ERR_INVALID_ARGUMENT,
                     [&] { writer.send_planes(nv12, {luma.data()}, {8}); });

        // A fill that throws: the frame is abandoned, the exception comes back.
        bool rethrown = false;
        try {
            writer.write_pixels(layout, "", [](std::uint8_t *, std::size_t) {
                throw std::logic_error("camera unplugged");
            });
        } catch (const std::logic_error &e) {
            rethrown = std::string(e.what()) == "camera unplugged";
        }
        CHECK(rethrown);
        expect_error(__LINE__, SHM_ERR_WRITER_DIED, [&] { reader.receive(); });

        // TestData by a loan of kind 2, into a buffer that grows, then shrinks
        // to the payload.
        ShmTestData data{100, 20, {60, 61, 62, 63, 64, 65, 66, 67, 68, 69}};
        n = writer.write(SHM_KIND_TEST_DATA, sizeof data, [&](std::uint8_t *payload, std::size_t len) {
            if (len != sizeof data) throw std::length_error("not 48 bytes");
            std::memcpy(payload, &data, len);
        });
        std::vector<std::uint8_t> buf(1000);
        ShmFrameInfo info = reader.receive_into(buf);
        CHECK(info.frame_number == n && info.kind == SHM_KIND_TEST_DATA && buf.size() == 48);
        ShmTestData got{};
        CHECK(shm_decode_test_data(buf.data(), buf.size(), &got) == SHM_OK);
        CHECK(std::memcmp(&got, &data, sizeof data) == 0);

        // Senders.
        bool listed = false;
        for (const auto &sender : shm::list_senders()) listed |= sender == name;
        CHECK(listed);
    }
    CHECK(shm_remove(name.c_str()) == SHM_OK);
    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}
