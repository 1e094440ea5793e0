import type { Grouping } from './types.js';

export const tokenGrouping: Grouping = {
  name: 'token',
  description: 'one feature per token',
  groups: (encoding) => encoding.ids.map((_, position) => position),
};
