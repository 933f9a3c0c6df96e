// The seeds' writer and reader in C++17 with shm_exchange.hpp:
//
//   frames NAME send FILE            the image file's bytes with its path
//   frames NAME receive [TIMEOUT_MS] prints "ready at frame N", waits for the
//                                    next frame and prints what it holds
//
// Build: c++ -std=c++17 frames.cpp -o frames $(pkg-config --cflags --libs shm_exchange)
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "shm_exchange.hpp"

int main(int argc, char **argv) try {
    if (argc < 3) {
        std::cerr << "usage: frames NAME send FILE | receive [TIMEOUT_MS]\n";
        return 2;
    }
    const std::string name = argv[1], command = argv[2];
    if (command == "send" && argc == 4) {
        auto mapping = shm::Mapping::create_or_open(name);
        std::cout << "sent frame " << mapping.send_image_file(argv[3]) << "\n";
        return 0;
    }
    if (command == "receive") {
        auto mapping = shm::Mapping::open_existing(name);
        std::uint64_t after = mapping.info().frame_number;
        std::cout << "ready at frame " << after << std::endl;
        auto timeout = std::chrono::milliseconds(argc > 3 ? std::stoll(argv[3]) : 5000);
        shm::Frame frame = mapping.wait(after, timeout);
        switch (frame.kind()) {
            case SHM_KIND_IMAGE: {
                auto image = frame.image();
                std::cout << "frame " << frame.number() << ": image " << image.path << ", "
                          << image.image.size << " bytes\n";
                break;
            }
            case SHM_KIND_TEST_DATA: {
                ShmTestData d = frame.test_data();
                std::cout << "frame " << frame.number() << ": Id=" << d.id << ",Age=" << d.age
                          << ",Scores=";
                for (int i = 0; i < 10; i++) std::cout << (i ? "," : "") << d.scores[i];
                std::cout << "\n";
                break;
            }
            case SHM_KIND_PIXELS: {
                auto p = frame.pixels();
                std::cout << "frame " << frame.number() << ": pixels " << p.layout.width << "x"
                          << p.layout.height << "\n";
                break;
            }
            default:
                std::cout << "frame " << frame.number() << ": kind " << frame.kind() << "\n";
        }
        return 0;
    }
    std::cerr << "frames: unknown command " << command << "\n";
    return 2;
} catch (const shm::Error &e) {
    std::cerr << "frames: " << shm_status_name(e.status()) << ": " << e.what() << "\n";
    return e.status() == SHM_ERR_TIMED_OUT ? 3 : 1;
}
