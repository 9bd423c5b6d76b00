/** The value after `--name` on the command line of a helper process the scripts start; throws when it is missing. */
export function requiredArg(name: string, argv: readonly string[] = process.argv): string {
  const i = argv.indexOf(name);
  const v = i >= 0 ? argv[i + 1] : undefined;
  if (!v) throw new Error(`${name} is required`);
  return v;
}
