export * from "./lib/image_digest_web";
