// The generated napi-rs loader and its types (index.js / index.d.ts at the
// package root, made by `napi build`). Nothing else imports it directly.
// Every module that needs the addon imports this one, and index.ts loads
// those modules on first use, so the addon opens at the first native-backed
// call; preflight first turns a missing addon into ERR_BINDING_NOT_FOUND.
import './preflight'
// eslint-disable-next-line @typescript-eslint/no-require-imports
import binding = require('../index.js')
export = binding
