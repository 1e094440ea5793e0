import { toNumber, type NodeProto } from './proto.js';

/** Typed reads of a node's attributes, with the operator's documented default where absent. */
export function attr(node: NodeProto, name: string) {
  return node.attribute.find((a) => a.name === name);
}
export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? toNumber(a.i) : fallback;
}
export function floatAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? fallback) : fallback;
}
export function intsAttr(node: NodeProto, name: string): number[] | null {
  const a = attr(node, name);
  return a?.ints ? a.ints.map(toNumber) : null;
}
export function stringAttr(node: NodeProto, name: string, fallback: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}
