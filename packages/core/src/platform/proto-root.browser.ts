import protobuf from 'protobufjs';
import fednode from '../../proto/fednode.proto';
import onnx from '../../proto/onnx.proto';

/** Browser side of proto-root.ts: the bundler inlines the .proto files as text (esbuild's text loader). */
export function protoRoot(name: 'onnx' | 'fednode'): protobuf.Root {
  return protobuf.parse(name === 'onnx' ? onnx : fednode, { keepCase: false }).root;
}
