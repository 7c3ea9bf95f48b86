#pragma once

// `sluss check [FILE] [--json] [--server URL] [--offline]`: validates a
// pipeline file offline, then, where a server is named, checks its images.

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "cli/client.h"
#include "core/error.h"
#include "core/pipeline.h"

namespace sluss::cli {

// What `sluss check` needs to know of an image on the server.
struct ImageFacts {
  bool approved = false;                  // the server has an image of that name
  std::vector<std::string> interpreters;  // python3, Rscript, ... found in it
};
// Asks the server about one image; an error when it cannot be asked.
using ImageLookup = std::function<core::Result<ImageFacts>(const std::string& image)>;

struct CheckOptions {
  std::string file = "sluss.yaml";
  bool json = false;
  // When set, each image the pipeline names is looked up (once), and an
  // action whose `run` starts with an interpreter its image lacks, or that
  // names an image the server does not have, gets a warning. Warnings do
  // not change the exit code. Unset: the check is offline.
  ImageLookup images;
};

// Looks images up through slussd's API (GET /v1/images/NAME).
ImageLookup ServerImageLookup(Client client);

// Returns the exit code: 0 valid, 1 invalid or unreadable.
int RunCheck(const CheckOptions& options, std::ostream& out, std::ostream& err);

// The plan of a valid pipeline as a table, in run order.
void PrintPlan(const core::Pipeline& pipeline, std::ostream& out);

}  // namespace sluss::cli
