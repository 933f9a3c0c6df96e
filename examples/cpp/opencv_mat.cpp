// A cv::Mat through a mapping, both ways, with no conversion: OpenCV's BGR
// rows (CV_8UC3, any step) are sent as a BGR8 pixels frame, and a received
// BGR8/BGRA8/GRAY8 frame is wrapped in a cv::Mat header over the frame's
// bytes (no copy; the Mat is valid while the Frame lives).
//
//   opencv_mat NAME send IMAGE_FILE     cv::imread, then send (readers show it)
//   opencv_mat NAME receive OUT.png     wait for a frame, cv::imwrite it
//
// Built when OpenCV is found (Debian: libopencv-dev):
//   c++ -std=c++17 opencv_mat.cpp -o opencv_mat $(pkg-config --cflags --libs shm_exchange opencv4)
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <iostream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/core.hpp>

#include "shm_exchange.hpp"

static void send(shm::Mapping &mapping, const cv::Mat &image, const std::string &path) {
    if (image.type() != CV_8UC3) throw std::runtime_error("expected an 8-bit BGR image");
    ShmPixelLayout layout{};
    layout.width = static_cast<std::uint32_t>(image.cols);
    layout.height = static_cast<std::uint32_t>(image.rows);
    layout.stride_bytes = static_cast<std::uint32_t>(image.step[0]);
    layout.pixel_format = SHM_PIXEL_FORMAT_BGR8;
    // Rows are written straight into the mapping (a loaned write): one copy.
    mapping.write_pixels(layout, path, [&](std::uint8_t *rows, std::size_t) {
        for (int y = 0; y < image.rows; y++)
            std::memcpy(rows + y * image.step[0], image.ptr(y), image.cols * 3);
    });
}

static cv::Mat view(const shm::Pixels &p) {
    int type = p.layout.pixel_format == SHM_PIXEL_FORMAT_BGR8    ? CV_8UC3
               : p.layout.pixel_format == SHM_PIXEL_FORMAT_BGRA8 ? CV_8UC4
               : p.layout.pixel_format == SHM_PIXEL_FORMAT_GRAY8 ? CV_8UC1
                                                                 : -1;
    if (type < 0) throw std::runtime_error("frame is not BGR8, BGRA8 or GRAY8");
    return cv::Mat(static_cast<int>(p.layout.height), static_cast<int>(p.layout.width), type,
                   const_cast<std::uint8_t *>(p.pixels.data), p.layout.stride_bytes);
}

int main(int argc, char **argv) try {
    if (argc != 4) {
        std::cerr << "usage: opencv_mat NAME send IMAGE_FILE | receive OUT.png\n";
        return 2;
    }
    std::string name = argv[1], command = argv[2];
    if (command == "send") {
        auto mapping = shm::Mapping::create_or_open(name);
        cv::Mat image = cv::imread(argv[3], cv::IMREAD_COLOR);
        if (image.empty()) throw std::runtime_error(std::string("cannot read ") + argv[3]);
        send(mapping, image, argv[3]);
        std::cout << "sent " << image.cols << "x" << image.rows << " BGR8\n";
    } else {
        auto mapping = shm::Mapping::open_existing(name);
        shm::Frame frame = mapping.wait(0, std::chrono::milliseconds(5000));
        cv::Mat image = view(frame.pixels());
        cv::imwrite(argv[3], image);
        std::cout << "saved " << image.cols << "x" << image.rows << " to " << argv[3] << "\n";
    }
    return 0;
} catch (const std::exception &e) {
    std::cerr << "opencv_mat: " << e.what() << "\n";
    return 1;
}
