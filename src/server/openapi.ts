// The OpenAPI 3.1 description of facesr serve's JSON API, served at GET /openapi.json. The enhance
// options come from OPTION_SPECS, the table the request parser reads.
import { OPTION_NAMES, OPTION_SPECS } from './options.js';

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** The OpenAPI document; `limits` are the server's, written into the descriptions. */
export function openApiDocument(version: string, limits: { maxBytes: number; pixelLimit: number }) {
  const mb = (limits.maxBytes / 1e6).toFixed(1);
  const mp = (limits.pixelLimit / 1e6).toFixed(1);
  return {
    openapi: '3.1.0',
    info: {
      title: 'facesr serve',
      version,
      description:
        'Restores the small faces of photos (detect, restore 16x16 -> 64x64, paste back). One photo per request; requests beyond the concurrency limit wait in a bounded queue, and a full queue answers 429.',
    },
    paths: {
      '/v1/enhance': {
        post: {
          operationId: 'enhance',
          summary: 'Restore the faces of one photo',
          description: `The photo is a multipart/form-data file part (any field name; the options may also be text fields) or the raw request body with an image Content-Type (image/jpeg, image/png, image/webp, image/tiff, image/gif, image/avif, image/heif or application/octet-stream). At most ${mb} MB and ${mp} MP, input and scaled output. Uploads are kept in memory and never written to disk.`,
          parameters: OPTION_NAMES.map((name) => ({
            name,
            in: 'query',
            required: false,
            description: OPTION_SPECS[name].description,
            schema: OPTION_SPECS[name].schema,
          })),
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  properties: {
                    image: { type: 'string', format: 'binary' },
                    ...Object.fromEntries(OPTION_NAMES.map((n) => [n, { type: 'string' }])),
                  },
                  required: ['image'],
                },
              },
              'image/*': { schema: { type: 'string', format: 'binary' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '200': {
              description:
                'output=image: the restored photo (headers X-Facesr-Faces and X-Facesr-Restored count the faces found and restored). output=json: the report.',
              content: {
                'image/jpeg': { schema: { type: 'string', format: 'binary' } },
                'image/png': { schema: { type: 'string', format: 'binary' } },
                'image/webp': { schema: { type: 'string', format: 'binary' } },
                'application/json': { schema: { $ref: '#/components/schemas/EnhanceReport' } },
              },
            },
            '400': errorResponse('Bad options, no image in the request, more than one image.'),
            '413': errorResponse(`Upload over ${mb} MB, or photo (input or scaled output) over ${mp} MP.`),
            '415': errorResponse('A Content-Type that is neither multipart/form-data nor an image.'),
            '422': errorResponse('The bytes are not an image this server reads, or are damaged.'),
            '429': errorResponse('The queue is full; retry after the Retry-After header seconds.'),
            '503': errorResponse('The request did not finish within the per-request timeout.'),
          },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'models',
          summary: 'The loaded model and the shipped models',
          responses: {
            '200': {
              description: 'Models',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Models' } } },
            },
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Liveness and queue state',
          responses: {
            '200': {
              description: 'The server is up',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: { '200': { description: 'OpenAPI 3.1 document' } },
        },
      },
    },
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['statusCode', 'error', 'code', 'message'],
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string', description: 'HTTP reason phrase' },
            code: {
              type: 'string',
              description: 'Stable machine-readable code',
              enum: [
                'bad_option',
                'no_image',
                'too_many_files',
                'empty_image',
                'too_large',
                'too_many_pixels',
                'unsupported_media_type',
                'not_an_image',
                'queue_full',
                'timeout',
                'not_found',
                'bad_request',
                'internal',
              ],
            },
            message: { type: 'string' },
          },
        },
        Box: {
          type: 'array',
          items: { type: 'number' },
          minItems: 4,
          maxItems: 4,
          description: '[x1, y1, x2, y2]',
        },
        Face: {
          type: 'object',
          required: ['index', 'box', 'score', 'nativeSize', 'frame', 'restored', 'ms'],
          properties: {
            index: { type: 'integer', description: "Index in the detector's order (for the faces option)" },
            box: { $ref: '#/components/schemas/Box' },
            score: { type: 'number' },
            nativeSize: { type: 'number', description: 'Box long side, input pixels' },
            frame: {
              type: 'object',
              properties: { x: { type: 'integer' }, y: { type: 'integer' }, size: { type: 'integer' } },
            },
            restored: { type: 'boolean' },
            skipped: { type: 'string', enum: ['too-small', 'too-large', 'not-selected'] },
            ms: { type: 'number' },
            before: {
              type: 'string',
              description: 'data:image/png;base64 of the frame up-sampled (bicubic)',
            },
            after: { type: 'string', description: 'data:image/png;base64 of the restored face' },
          },
        },
        EnhanceReport: {
          type: 'object',
          properties: {
            model: { type: 'string' },
            detector: { type: 'string' },
            scale: { type: 'integer' },
            input: {
              type: 'object',
              properties: {
                width: { type: 'integer' },
                height: { type: 'integer' },
                format: { type: 'string' },
                grayscale: { type: 'boolean' },
              },
            },
            output: {
              type: 'object',
              properties: {
                width: { type: 'integer' },
                height: { type: 'integer' },
                format: { type: 'string' },
                bytes: { type: 'integer' },
              },
            },
            image: { type: 'string', description: 'data URL of the restored photo (unless image=false)' },
            faces: { type: 'array', items: { $ref: '#/components/schemas/Face' } },
            timings: {
              type: 'object',
              additionalProperties: { type: 'number' },
              description: 'seconds per stage',
            },
            queueMs: { type: 'number', description: 'time spent waiting for a slot' },
          },
        },
        Models: {
          type: 'object',
          properties: {
            loaded: {
              type: 'object',
              properties: {
                name: { type: ['string', 'null'] },
                file: { type: 'string' },
                scale: { type: 'integer' },
                inputSize: { type: 'integer' },
                outputSize: { type: 'integer' },
              },
            },
            detector: { type: 'string' },
            shipped: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  name: { type: 'string' },
                  file: { type: 'string' },
                  description: { type: 'string' },
                  default: { type: 'boolean' },
                  loaded: { type: 'boolean' },
                },
              },
            },
          },
        },
        Health: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['ok'] },
            uptimeS: { type: 'number' },
            queue: {
              type: 'object',
              properties: {
                concurrency: { type: 'integer' },
                maxQueued: { type: 'integer' },
                admitted: { type: 'integer' },
                running: { type: 'integer' },
                waiting: { type: 'integer' },
                rejected: { type: 'integer' },
              },
            },
            memory: {
              type: 'object',
              properties: {
                rssMb: { type: 'number', description: "the server process's resident memory" },
                jobs: {
                  type: 'object',
                  description: 'the thread that runs the jobs (a worker thread under facesr serve)',
                  properties: {
                    thread: { type: 'string', enum: ['main', 'worker'] },
                    heapUsedMb: { type: 'number' },
                    heapTotalMb: { type: 'number' },
                    liveTensors: { type: 'integer' },
                    ageMs: {
                      type: 'number',
                      description: 'age of the reading when the busy worker could not answer at once',
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
