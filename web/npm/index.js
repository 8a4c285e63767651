// The package's entry: the wasm-bindgen Node build of the policy's core (lib/), loaded once.
"use strict";
module.exports = require("./lib/image_digest_web.js");
