// Command-line options of the benchmark runners: `--name value` pairs over a table of defaults,
// each value taking the type of its default (a boolean default makes a flag with no value). An
// option the runner does not know is an error, so a typo is never a silently ignored setting.
export function parseOptions(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in defaults)) throw new Error(`unknown option --${key}`);
    if (typeof defaults[key] === 'boolean') out[key] = true;
    else if (typeof defaults[key] === 'number') out[key] = Number(argv[++i]);
    else out[key] = argv[++i];
  }
  return out;
}
