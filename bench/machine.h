#pragma once
// The machine line every benchmark prints first.

#include <fstream>
#include <string>
#include <thread>

namespace sluss::bench {

// "Intel(R) Xeon(R) Processor @ 2.80GHz, 2 cores"
inline std::string Machine() {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

}  // namespace sluss::bench
