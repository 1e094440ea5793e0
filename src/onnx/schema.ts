// The ONNX IR as a protobufjs reflection descriptor. Field numbers follow onnx/onnx.proto3.
// Every field of the spec is declared, so that decode → rewrite → encode loses nothing.

type Field = { type: string; id: number; rule?: 'repeated'; options?: Record<string, unknown> };
type Message = { fields: Record<string, Field>; oneofs?: Record<string, { oneof: string[] }> };

const f = (type: string, id: number): Field => ({ type, id });
const rep = (type: string, id: number): Field => ({ type, id, rule: 'repeated' });
const packed = (type: string, id: number): Field => ({
  type,
  id,
  rule: 'repeated',
  options: { packed: true },
});

const messages: Record<string, Message> = {
  StringStringEntryProto: { fields: { key: f('string', 1), value: f('string', 2) } },
  OperatorSetIdProto: { fields: { domain: f('string', 1), version: f('int64', 2) } },
  TensorShapeProto: {
    fields: { dim: rep('Dimension', 1) },
  },
  Dimension: {
    fields: { dimValue: f('int64', 1), dimParam: f('string', 2), denotation: f('string', 3) },
    oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
  },
  TypeTensor: { fields: { elemType: f('int32', 1), shape: f('TensorShapeProto', 2) } },
  TypeSequence: { fields: { elemType: f('TypeProto', 1) } },
  TypeMap: { fields: { keyType: f('int32', 1), valueType: f('TypeProto', 2) } },
  TypeOptional: { fields: { elemType: f('TypeProto', 1) } },
  TypeSparseTensor: { fields: { elemType: f('int32', 1), shape: f('TensorShapeProto', 2) } },
  TypeProto: {
    fields: {
      tensorType: f('TypeTensor', 1),
      sequenceType: f('TypeSequence', 4),
      mapType: f('TypeMap', 5),
      optionalType: f('TypeOptional', 9),
      sparseTensorType: f('TypeSparseTensor', 8),
      denotation: f('string', 6),
    },
    oneofs: {
      value: { oneof: ['tensorType', 'sequenceType', 'mapType', 'optionalType', 'sparseTensorType'] },
    },
  },
  ValueInfoProto: {
    fields: {
      name: f('string', 1),
      type: f('TypeProto', 2),
      docString: f('string', 3),
      metadataProps: rep('StringStringEntryProto', 4),
    },
  },
  Segment: { fields: { begin: f('int64', 1), end: f('int64', 2) } },
  TensorProto: {
    fields: {
      dims: packed('int64', 1),
      dataType: f('int32', 2),
      segment: f('Segment', 3),
      floatData: packed('float', 4),
      int32Data: packed('int32', 5),
      stringData: rep('bytes', 6),
      int64Data: packed('int64', 7),
      name: f('string', 8),
      docString: f('string', 12),
      rawData: f('bytes', 9),
      externalData: rep('StringStringEntryProto', 13),
      dataLocation: f('int32', 14),
      doubleData: packed('double', 10),
      uint64Data: packed('uint64', 11),
      metadataProps: rep('StringStringEntryProto', 16),
    },
  },
  SparseTensorProto: {
    fields: { values: f('TensorProto', 1), indices: f('TensorProto', 2), dims: packed('int64', 3) },
  },
  AttributeProto: {
    fields: {
      name: f('string', 1),
      refAttrName: f('string', 21),
      docString: f('string', 13),
      type: f('int32', 20),
      f: f('float', 2),
      i: f('int64', 3),
      s: f('bytes', 4),
      t: f('TensorProto', 5),
      g: f('GraphProto', 6),
      sparseTensor: f('SparseTensorProto', 22),
      tp: f('TypeProto', 14),
      floats: packed('float', 7),
      ints: packed('int64', 8),
      strings: rep('bytes', 9),
      tensors: rep('TensorProto', 10),
      graphs: rep('GraphProto', 11),
      sparseTensors: rep('SparseTensorProto', 23),
      typeProtos: rep('TypeProto', 15),
    },
  },
  NodeProto: {
    fields: {
      input: rep('string', 1),
      output: rep('string', 2),
      name: f('string', 3),
      opType: f('string', 4),
      domain: f('string', 7),
      overload: f('string', 8),
      attribute: rep('AttributeProto', 5),
      docString: f('string', 6),
      metadataProps: rep('StringStringEntryProto', 9),
    },
  },
  TensorAnnotation: {
    fields: { tensorName: f('string', 1), quantParameterTensorNames: rep('StringStringEntryProto', 2) },
  },
  GraphProto: {
    fields: {
      node: rep('NodeProto', 1),
      name: f('string', 2),
      initializer: rep('TensorProto', 5),
      sparseInitializer: rep('SparseTensorProto', 15),
      docString: f('string', 10),
      input: rep('ValueInfoProto', 11),
      output: rep('ValueInfoProto', 12),
      valueInfo: rep('ValueInfoProto', 13),
      quantizationAnnotation: rep('TensorAnnotation', 14),
      metadataProps: rep('StringStringEntryProto', 16),
    },
  },
  TrainingInfoProto: {
    fields: {
      initialization: f('GraphProto', 1),
      algorithm: f('GraphProto', 2),
      initializationBinding: rep('StringStringEntryProto', 3),
      updateBinding: rep('StringStringEntryProto', 4),
    },
  },
  FunctionProto: {
    fields: {
      name: f('string', 1),
      input: rep('string', 4),
      output: rep('string', 5),
      attribute: rep('string', 6),
      attributeProto: rep('AttributeProto', 11),
      node: rep('NodeProto', 7),
      docString: f('string', 8),
      opsetImport: rep('OperatorSetIdProto', 9),
      domain: f('string', 10),
      overload: f('string', 13),
      valueInfo: rep('ValueInfoProto', 12),
      metadataProps: rep('StringStringEntryProto', 14),
    },
  },
  ModelProto: {
    fields: {
      irVersion: f('int64', 1),
      opsetImport: rep('OperatorSetIdProto', 8),
      producerName: f('string', 2),
      producerVersion: f('string', 3),
      domain: f('string', 4),
      modelVersion: f('int64', 5),
      docString: f('string', 6),
      graph: f('GraphProto', 7),
      metadataProps: rep('StringStringEntryProto', 14),
      trainingInfo: rep('TrainingInfoProto', 20),
      functions: rep('FunctionProto', 25),
    },
  },
};

export const onnxDescriptor = { nested: { onnx: { nested: messages } } };
