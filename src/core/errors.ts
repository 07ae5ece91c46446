/** Base class of every error facesr throws on purpose. */
export class FacesrError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An argument had the wrong type, range or shape. */
export class ArgumentError extends FacesrError {}

/** Two tensors (or a tensor and an expectation) disagree in shape. */
export class ShapeError extends FacesrError {}

/** A state dict did not match a module: lists every problem at once. */
export class StateDictError extends FacesrError {}

/** A file could not be read or did not have the expected format. */
export class FormatError extends FacesrError {}

/** The native addon could not be loaded. */
export class NativeLoadError extends FacesrError {}
