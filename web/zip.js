// rangecast web app: loads client-zip (npm, copied into dist/ by make wasm), the streaming
// ZIP writer behind "Download as zip". Without it the app offers no zip.
import { makeZip } from "./dist/client-zip.js";

globalThis.RangecastZip = { makeZip };
globalThis.dispatchEvent(new Event("rangecast:zip"));
