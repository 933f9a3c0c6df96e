// shm_exchange.hpp: a header-only C++17 wrapper on the C API of libshm_exchange
// (shm_exchange.h). RAII handles (shm::Mapping closes, shm::Frame frees), views
// as std::string_view and shm::Bytes, errors as shm::Error exceptions carrying
// the status and the library's message. See docs/C-API.md.
//
// Threads: as the C API: any method from any thread; one Mapping may be used
// by several threads at once. A Frame's views live as long as the Frame.
#ifndef SHM_EXCHANGE_HPP
#define SHM_EXCHANGE_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "shm_exchange.h"

namespace shm {

/// A failed call: `status()` is the C status code, `what()` the library's message.
class Error : public std::runtime_error {
public:
    Error(ShmStatus status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    ShmStatus status() const noexcept { return status_; }

private:
    ShmStatus status_;
};

namespace detail {
inline void check(ShmStatus status) {
    if (status != SHM_OK) throw Error(status, shm_last_error_message());
}
}  // namespace detail

/// Read-only bytes owned by someone else (a Frame): a pointer and a length
/// (std::span is C++20).
struct Bytes {
    const std::uint8_t *data = nullptr;
    std::size_t size = 0;
    const std::uint8_t *begin() const noexcept { return data; }
    const std::uint8_t *end() const noexcept { return data + size; }
};

/// An image record (kind 1): the sender's path and the image file's bytes.
struct ImageRecord {
    std::string_view path;
    Bytes image;
};

/// A pixels frame (kind 3): layout, rows (stride * height bytes) and path.
struct Pixels {
    ShmPixelLayout layout;
    Bytes pixels;
    std::string_view path;
};

/// A frame copied out of a mapping; frees itself. Move-only.
class Frame {
public:
    explicit Frame(ShmFrame *handle) noexcept : handle_(handle) {}
    Frame(Frame &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Frame &operator=(Frame &&other) noexcept {
        if (this != &other) {
            shm_frame_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Frame(const Frame &) = delete;
    Frame &operator=(const Frame &) = delete;
    ~Frame() { shm_frame_free(handle_); }

    ShmFrameInfo info() const {
        ShmFrameInfo info{};
        detail::check(shm_frame_info(handle_, &info));
        return info;
    }
    std::uint64_t number() const { return info().frame_number; }
    std::uint32_t kind() const { return info().kind; }
    Bytes payload() const {
        Bytes bytes;
        detail::check(shm_frame_payload(handle_, &bytes.data, &bytes.size));
        return bytes;
    }
    /// Throws Error(SHM_ERR_WRONG_KIND) unless the frame holds an image record.
    ImageRecord image() const {
        ShmImageRecord r{};
        detail::check(shm_frame_image(handle_, &r));
        return {{r.path, r.path_len_bytes}, {r.image, r.image_len_bytes}};
    }
    Pixels pixels() const {
        ShmPixels p{};
        detail::check(shm_frame_pixels(handle_, &p));
        return {p.layout, {p.pixels, p.pixels_len_bytes}, {p.path, p.path_len_bytes}};
    }
    /// The planes of a pixels frame: one, two (NV12: Y, CbCr) or three (I420:
    /// Y, Cb, Cr), each pointing into this frame.
    std::vector<ShmPlane> planes() const {
        ShmPlane p[SHM_MAX_PLANES]{};
        std::uint32_t count = 0;
        detail::check(shm_frame_planes(handle_, p, &count));
        return {p, p + count};
    }
    ShmTestData test_data() const {
        ShmTestData d{};
        detail::check(shm_frame_test_data(handle_, &d));
        return d;
    }
    const ShmFrame *handle() const noexcept { return handle_; }

private:
    ShmFrame *handle_;
};

/// An open mapping; closes itself. Move-only.
class Mapping {
public:
    /// Opens `name`, creating it with `mapping_len_bytes` bytes in all if missing.
    static Mapping create_or_open(const std::string &name,
                                  std::uint64_t mapping_len_bytes = 10 * 1024 * 1024) {
        return open(shm_mapping_create_or_open, name, mapping_len_bytes);
    }
    /// Creates `name`; throws Error(SHM_ERR_ALREADY_EXISTS) if it exists.
    static Mapping create_new(const std::string &name,
                              std::uint64_t mapping_len_bytes = 10 * 1024 * 1024) {
        return open(shm_mapping_create_new, name, mapping_len_bytes);
    }
    /// Opens the existing mapping `name`; throws Error(SHM_ERR_NOT_FOUND) if missing.
    static Mapping open_existing(const std::string &name) {
        ShmMapping *handle = nullptr;
        detail::check(shm_mapping_open_existing(name.c_str(), &handle));
        return Mapping(handle);
    }
    /// Opens (or creates) the regular file at `path` as a mapping.
    static Mapping from_file(const std::string &path,
                             std::uint64_t mapping_len_bytes = 10 * 1024 * 1024) {
        return open(shm_mapping_from_file, path, mapping_len_bytes);
    }

    Mapping(Mapping &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Mapping &operator=(Mapping &&other) noexcept {
        if (this != &other) {
            shm_mapping_close(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Mapping(const Mapping &) = delete;
    Mapping &operator=(const Mapping &) = delete;
    ~Mapping() { shm_mapping_close(handle_); }

    ShmMappingInfo info() const {
        ShmMappingInfo info{};
        detail::check(shm_mapping_info(handle_, &info));
        return info;
    }
    /// `lock_timeout` is clamped to 0 .. 2^32 - 1 ms.
    void set_write_options(bool crc32, std::chrono::milliseconds lock_timeout) {
        auto ms = lock_timeout.count();
        std::uint32_t clamped = ms < 0 ? 0u
                                : ms > 0xFFFFFFFFLL ? 0xFFFFFFFFu
                                                    : static_cast<std::uint32_t>(ms);
        detail::check(shm_mapping_set_write_options(handle_, crc32 ? 1 : 0, clamped));
    }

    /// Each send returns the new frame's number.
    std::uint64_t send_image(const std::string &path, const void *image, std::size_t len_bytes) {
        std::uint64_t n = 0;
        detail::check(shm_mapping_send_image(handle_, path.c_str(),
                                             static_cast<const std::uint8_t *>(image), len_bytes, &n));
        return n;
    }
    std::uint64_t send_image_file(const std::string &file_path) {
        std::uint64_t n = 0;
        detail::check(shm_mapping_send_image_file(handle_, file_path.c_str(), &n));
        return n;
    }
    std::uint64_t send_test_data(const ShmTestData &data) {
        std::uint64_t n = 0;
        detail::check(shm_mapping_send_test_data(handle_, &data, &n));
        return n;
    }
    std::uint64_t send_pixels(const ShmPixelLayout &layout, const void *pixels,
                              std::size_t len_bytes, const std::string &path = {}) {
        std::uint64_t n = 0;
        detail::check(shm_mapping_send_pixels(handle_, &layout,
                                              static_cast<const std::uint8_t *>(pixels), len_bytes,
                                              path.c_str(), &n));
        return n;
    }
    /// A pixels frame of any format (YUV above all) from planes kept apart:
    /// plane i at `data[i]`, rows `strides[i]` bytes apart (`layout.stride_bytes`
    /// must be 0: the frame is written without padding).
    std::uint64_t send_planes(const ShmPixelLayout &layout,
                              const std::vector<const std::uint8_t *> &data,
                              const std::vector<std::uint32_t> &strides,
                              const std::string &path = {}) {
        if (data.size() != strides.size())
            throw Error(SHM_ERR_INVALID_ARGUMENT, "send_planes: one stride per plane");
        std::uint64_t n = 0;
        detail::check(shm_mapping_send_planes(handle_, &layout, data.data(), strides.data(),
                                              static_cast<std::uint32_t>(data.size()),
                                              path.c_str(), &n));
        return n;
    }
    std::uint64_t send_object(const void *msgpack, std::size_t len_bytes) {
        std::uint64_t n = 0;
        detail::check(shm_mapping_send_object(
            handle_, static_cast<const std::uint8_t *>(msgpack), len_bytes, &n));
        return n;
    }

    /// A loaned pixels write: `fill(std::uint8_t *rows, std::size_t len_bytes)`
    /// writes the rows in place. If it throws, the frame is abandoned and the
    /// exception is rethrown here (it never crosses the C library).
    template <class Fill>
    std::uint64_t write_pixels(const ShmPixelLayout &layout, const std::string &path, Fill &&fill) {
        using F = std::remove_reference_t<Fill>;
        return loan(
            [&](Trampoline<F> &t, std::uint64_t *n) {
                return shm_mapping_write_pixels_loan(handle_, &layout, path.c_str(),
                                                     &Trampoline<F>::call, &t, n);
            },
            fill);
    }
    /// A loaned write of `len_bytes` of kind `kind` (SHM_KIND_*), as write_pixels.
    template <class Fill>
    std::uint64_t write(std::uint32_t kind, std::uint64_t len_bytes, Fill &&fill) {
        using F = std::remove_reference_t<Fill>;
        return loan(
            [&](Trampoline<F> &t, std::uint64_t *n) {
                return shm_mapping_write_loan(handle_, kind, len_bytes, &Trampoline<F>::call, &t,
                                              n);
            },
            fill);
    }

    /// The newest frame (kind SHM_KIND_EMPTY, number 0, if none was written).
    Frame receive() const {
        ShmFrame *frame = nullptr;
        detail::check(shm_mapping_receive(handle_, &frame));
        return Frame(frame);
    }
    /// The newest frame once it is another than `after_frame_number` (the
    /// last one read; 0: any); throws Error(SHM_ERR_TIMED_OUT) after `timeout`
    /// (negative: wait forever).
    Frame wait(std::uint64_t after_frame_number, std::chrono::milliseconds timeout) const {
        ShmFrame *frame = nullptr;
        detail::check(shm_mapping_wait(handle_, after_frame_number,
                                       static_cast<std::int64_t>(timeout.count()), &frame));
        return Frame(frame);
    }
    /// The newest frame's payload into `buf` (resized to the payload's length),
    /// and its header fields.
    ShmFrameInfo receive_into(std::vector<std::uint8_t> &buf) const {
        for (;;) {
            ShmFrameInfo info{};
            ShmStatus status = shm_mapping_receive_into(handle_, buf.data(), buf.size(), &info);
            if (status == SHM_ERR_BUFFER_TOO_SMALL) {
                buf.resize(static_cast<std::size_t>(info.payload_len_bytes));
                continue;
            }
            detail::check(status);
            buf.resize(static_cast<std::size_t>(info.payload_len_bytes));
            return info;
        }
    }

    ShmMapping *handle() const noexcept { return handle_; }

private:
    explicit Mapping(ShmMapping *handle) noexcept : handle_(handle) {}

    template <class OpenFn>
    static Mapping open(OpenFn fn, const std::string &name, std::uint64_t len) {
        ShmMapping *handle = nullptr;
        detail::check(fn(name.c_str(), len, &handle));
        return Mapping(handle);
    }

    template <class Fill>
    struct Trampoline {
        Fill &fill;
        std::exception_ptr error;
        static std::int32_t call(void *self, std::uint8_t *payload, std::size_t len) noexcept {
            auto *t = static_cast<Trampoline *>(self);
            try {
                t->fill(payload, len);
                return 0;
            } catch (...) {
                t->error = std::current_exception();
                return 1;
            }
        }
    };

    template <class Call, class Fill>
    std::uint64_t loan(Call &&c, Fill &fill) {
        Trampoline<Fill> t{fill, nullptr};
        std::uint64_t n = 0;
        ShmStatus status = c(t, &n);
        if (t.error) std::rethrow_exception(t.error);
        detail::check(status);
        return n;
    }

    ShmMapping *handle_;
};

/// The names of the mappings of our format in /dev/shm (%TEMP%\shm-exchange on Windows), sorted.
inline std::vector<std::string> list_senders() {
    for (;;) {
        std::size_t needed = 0;
        ShmStatus status = shm_list_senders(nullptr, 0, &needed);
        if (status != SHM_ERR_BUFFER_TOO_SMALL) detail::check(status);
        std::string text(needed, '\0');
        status = shm_list_senders(text.data(), text.size(), &needed);
        if (status == SHM_ERR_BUFFER_TOO_SMALL) continue;  // a sender came meanwhile
        detail::check(status);
        std::vector<std::string> names;
        std::size_t start = 0;
        for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
            names.push_back(text.substr(start, end - start));
        return names;
    }
}

}  // namespace shm

#endif  // SHM_EXCHANGE_HPP
