import fs from 'node:fs';
import path from 'node:path';
import { validateXML } from 'xmllint-wasm';

const SCHEMA = path.join(path.dirname(new URL(import.meta.url).pathname), 'junit-10.xsd');

/**
 * Validates JUnit XML against test/support/junit-10.xsd (the element and attribute list of the Jenkins
 * xUnit plugin's junit-10.xsd) with libxml2's own XSD validator, compiled to WebAssembly (xmllint-wasm):
 * the same check as `xmllint --schema`, with no system package. Returns libxml2's messages, empty when valid.
 */
export async function junitSchemaErrors(xml: string): Promise<string[]> {
  const r = await validateXML({
    xml: [{ fileName: 'results.xml', contents: xml }],
    schema: [{ fileName: 'junit-10.xsd', contents: fs.readFileSync(SCHEMA, 'utf8') }],
  });
  return r.valid ? [] : r.errors.map((e) => e.message);
}
