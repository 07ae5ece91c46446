// HTTP errors of facesr serve: every error answer is JSON {statusCode, error, code, message}.
import { STATUS_CODES } from 'node:http';
import { ArgumentError, FacesrError } from '../core/errors.js';
import { ImageError } from '../data/image.js';

/** An error with the HTTP status and stable code it is answered with. */
export class HttpError extends FacesrError {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
}

/** Codes of fastify and @fastify/multipart errors, as this API's status, code and message. */
const FRAMEWORK: Record<string, (maxBytes: number) => [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (m) => [413, 'too_large', `the upload is over the limit of ${mb(m)}`],
  FST_REQ_FILE_TOO_LARGE: (m) => [413, 'too_large', `the uploaded file is over the limit of ${mb(m)}`],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => [
    415,
    'unsupported_media_type',
    'send the photo as multipart/form-data or as the raw body with an image/* or application/octet-stream Content-Type',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => [
    400,
    'bad_request',
    'the Content-Length does not match the body',
  ],
  FST_FILES_LIMIT: () => [400, 'too_many_files', 'send one photo per request'],
  FST_PARTS_LIMIT: () => [400, 'bad_option', 'too many multipart parts'],
  FST_FIELDS_LIMIT: () => [400, 'bad_option', 'too many multipart fields'],
  FST_PROTO_VIOLATION: () => [400, 'bad_option', 'a field name is not allowed'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: () => [400, 'bad_request', 'the multipart body is malformed'],
  FST_MP_PREMATURE_CLOSE: () => [400, 'bad_request', 'the request ended before the multipart body did'],
};

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** Turns any thrown value into the answer for it. */
export function errorBody(err: unknown, maxBytes: number): ErrorBody {
  let status = 500;
  let code = 'internal';
  let message = 'internal error';
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (err instanceof HttpError) [status, code, message] = [err.statusCode, err.code, err.message];
  else if (err instanceof ArgumentError) [status, code, message] = [400, 'bad_option', err.message];
  else if (err instanceof ImageError) [status, code, message] = [422, 'not_an_image', err.message];
  else if (e?.code && FRAMEWORK[e.code]) [status, code, message] = FRAMEWORK[e.code]!(maxBytes);
  else if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    // Other client errors fastify finds (malformed requests): its message is about the request.
    [status, code, message] = [e.statusCode, 'bad_request', String(e.message ?? 'bad request')];
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', code, message };
}
