// The Model vocabulary lives with the runtime door, which runs what a Model holds; loaders name it from here.
export type * from '../runtime/model.js';
