/**
 * An authorization detail (RFC 9396 §2): a JSON object with a `type` and,
 * optionally, the common fields `locations`, `actions`, `datatypes`,
 * `identifier`, `privileges`, plus fields its type defines.
 */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface AuthorizationDetail {
  readonly type: string;
  readonly locations?: readonly string[];
  readonly actions?: readonly string[];
  readonly datatypes?: readonly string[];
  readonly identifier?: string;
  readonly privileges?: readonly string[];
  readonly [field: string]: JsonValue | undefined;
}

/** The RFC 9396 §2.2 common fields that hold arrays of strings: a request may ask for fewer elements. */
export const SET_FIELDS = ['locations', 'actions', 'datatypes', 'privileges'] as const;
