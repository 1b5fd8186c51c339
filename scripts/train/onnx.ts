/**
 * Builds the ONNX graph of a logistic model from the ONNX protobuf definitions.
 *
 *   features[N,30] -> Sub(mean) -> Div(std) -> MatMul(W[30,1]) -> Add(b) -> Sigmoid -> probability[N,1]
 *
 * Standardisation lives inside the graph, so callers send raw features and can never pair the
 * model with the wrong scaler.
 */
import onnxProto from 'onnx-proto';
import type { LogisticModel } from './logreg.ts';

const { onnx } = onnxProto;

/** Names of the graph's input and output, which the service looks up at load time. */
export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'probability';

/** Options for {@link buildLogisticOnnx}. */
export interface OnnxBuildOptions {
  /** Key/value pairs stored as ONNX metadata_props (informational: onnxruntime-node can't read them). */
  metadata?: Record<string, string>;
  docString?: string;
}

function floatTensor(name: string, dims: number[], values: readonly number[]) {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(Float32Array.from(values).buffer),
  });
}

function valueInfo(name: string, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'number'
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      }),
    }),
  });
}

/** Serialises the model as an ONNX file (opset 13, IR version 8) and returns its bytes. */
export function buildLogisticOnnx(m: LogisticModel, opts: OnnxBuildOptions = {}, variant: { constantOutput?: number } = {}): Uint8Array {
  const d = m.weights.length;
  const node = (opType: string, inputs: string[], output: string) =>
    onnx.NodeProto.create({ opType, input: inputs, output: [output], name: output });
  const graph = onnx.GraphProto.create({
    name: 'logistic_regression',
    initializer: [
      floatTensor('mean', [d], m.mean),
      floatTensor('std', [d], m.std),
      floatTensor('weights', [d, 1], m.weights),
      floatTensor('bias', [1], [m.bias]),
      ...(variant.constantOutput === undefined ? [] : [floatTensor('constant', [1], [variant.constantOutput])]),
    ],
    node:
      variant.constantOutput === undefined
        ? [
            node('Sub', [INPUT_NAME, 'mean'], 'centred'),
            node('Div', ['centred', 'std'], 'standardised'),
            node('MatMul', ['standardised', 'weights'], 'logit_raw'),
            node('Add', ['logit_raw', 'bias'], 'logit'),
            node('Sigmoid', ['logit'], OUTPUT_NAME),
          ]
        : [
            // weights are all zero: MatMul gives 0 per row, plus the constant.
            node('MatMul', [INPUT_NAME, 'weights'], 'zero'),
            node('Add', ['zero', 'constant'], OUTPUT_NAME),
          ],
    input: [valueInfo(INPUT_NAME, ['batch', d])],
    output: [valueInfo(OUTPUT_NAME, ['batch', 1])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'inference-api/scripts/train.ts',
    producerVersion: '1',
    docString: opts.docString ?? '',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A deliberately broken model for drills and tests: the same input and output as the real one,
 * but the graph multiplies the features by zero and adds `value`, so every row scores `value`.
 * It loads, passes the smoke check, answers 200 OK: the silent failure the quality alerts catch.
 */
export function buildConstantOnnx(featureCount: number, value: number, opts: OnnxBuildOptions = {}): Uint8Array {
  const zeros = new Array<number>(featureCount).fill(0);
  const ones = new Array<number>(featureCount).fill(1);
  return buildLogisticOnnx(
    { mean: zeros, std: ones, weights: zeros, bias: 0 },
    opts,
    { constantOutput: value },
  );
}
