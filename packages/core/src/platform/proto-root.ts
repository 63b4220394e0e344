import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';

/**
 * Platform seam: the parsed schema of one of the package's .proto files. In Node it is read
 * from proto/ beside src/ and dist/ (two levels up from here resolves from both); the browser
 * build swaps in proto-root.browser.ts, which bundles the same files as text.
 */
export function protoRoot(name: 'onnx' | 'fednode'): protobuf.Root {
  return protobuf.loadSync(fileURLToPath(new URL(`../../proto/${name}.proto`, import.meta.url)));
}
