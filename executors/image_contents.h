#pragma once

// Reads what an image holds from its root file system: Debian's package
// database, Python's dist-info/egg-info metadata and R's DESCRIPTION files,
// and which interpreters are in its /usr/bin. Blocking file reads (a
// fraction of a second for a large image); never fails: what cannot be
// read is left out and named in ImageContents::notes.
//
// Symlinks inside the image are never followed out of it: a path whose
// parts include a symlink is not read (an image's own absolute links would
// point into the host).

#include <string>

#include "core/image_contents.h"

namespace sluss::executors {

// `root`: the image's root file system (for the `host` image, "/": its
// /usr is the host's).
core::ImageContents ReadImageContents(const std::string& root);

}  // namespace sluss::executors
