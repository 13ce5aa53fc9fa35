// The one global the portable consumers use. Their tsconfig loads neither DOM nor Node types, so the
// packed declarations of @pico/core, @pico/nn and @pico/optim must compile without either.
declare const console: { log(...data: unknown[]): void };
