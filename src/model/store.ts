/**
 * Holds the model now serving. A request takes the reference once at its start and uses that
 * model to the end, so swapping in a new version is atomic: no request ever mixes two models.
 */
import type { LoadedModel } from './model.ts';

/** The current model, swappable at run time. */
export class ModelStore {
  #current: LoadedModel | undefined;

  constructor(initial?: LoadedModel) {
    this.#current = initial;
  }

  /** The model now serving, or undefined before the first load. */
  get current(): LoadedModel | undefined {
    return this.#current;
  }

  /** Makes `next` the serving model and returns the previous one (for the caller to release). */
  swap(next: LoadedModel): LoadedModel | undefined {
    const prev = this.#current;
    this.#current = next;
    return prev;
  }
}
