// Parses each AsyncAPI document named on the command line with the official parser and
// prints one JSON line per document: its path and the parser's diagnostics (severity 0 is
// an error, 1 a warning, 2 information, 3 a hint).
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
for (const path of process.argv.slice(2)) {
  const { diagnostics } = await parser.parse(await readFile(path, "utf8"), { source: path });
  const found = diagnostics.map(({ code, message, path: where, severity }) => ({
    code,
    message,
    path: where.join("/"),
    severity,
  }));
  console.log(JSON.stringify({ document: path, diagnostics: found }));
}
