// A small subset of the OpenAPI v3 schema that CRDs use, and a type-level mapping from such a
// schema (written `as const`) to the TypeScript type of the objects it admits. The CRD in crds/
// is generated from the same constant (hack/generate-crds.ts), so the types and the schema the
// API server enforces cannot drift.

export type Schema = {
  readonly type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  readonly description?: string;
  readonly properties?: { readonly [name: string]: Schema };
  readonly required?: readonly string[];
  readonly additionalProperties?: Schema;
  readonly items?: Schema;
  readonly enum?: readonly (string | number)[];
  readonly format?: string;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly default?: unknown;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-validations'?: readonly {
    readonly rule: string;
    readonly message: string;
    /** A CEL string expression for the message (e.g. naming the offending key); `message` if it fails. */
    readonly messageExpression?: string;
  }[];
  readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
  readonly 'x-kubernetes-map-type'?: 'atomic' | 'granular';
};

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type ObjectOf<S extends Schema> = S extends { properties: infer P extends { readonly [k: string]: Schema } }
  ? Simplify<
      {
        -readonly [K in keyof P as K extends RequiredOf<S> ? K : never]: FromSchema<P[K]>;
      } & {
        -readonly [K in keyof P as K extends RequiredOf<S> ? never : K]?: FromSchema<P[K]>;
      }
    >
  : S extends { additionalProperties: infer A extends Schema }
    ? Record<string, FromSchema<A>>
    : Record<string, unknown>;

type RequiredOf<S extends Schema> = S extends { required: readonly (infer R)[] } ? R : never;

/** The TypeScript type of the values a schema admits. */
export type FromSchema<S extends Schema> = S extends { enum: readonly (infer E)[] }
  ? E
  : S extends { 'x-kubernetes-preserve-unknown-fields': true }
    ? S extends { properties: object }
      ? ObjectOf<S>
      : unknown
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'integer' | 'number' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'array'; items: infer I extends Schema }
            ? FromSchema<I>[]
            : S extends { type: 'object' }
              ? ObjectOf<S>
              : unknown;
