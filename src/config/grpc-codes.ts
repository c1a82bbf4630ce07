/** gRPC status codes by their canonical names (grpc/doc/statuscodes.md). */
export const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A name (any case) or a number from 1 to 16, as a number; undefined when it is neither. */
export function grpcCode(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 1 && value <= 16 ? value : undefined;
  const code = GRPC_CODES[value.trim().toUpperCase()];
  return code === undefined || code === 0 ? undefined : code;
}
