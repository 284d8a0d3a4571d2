// Command-line options shared by the bench scripts: --help, and whole numbers within a range.

/** Prints `usage` and exits 0 when --help was given. */
export function exitOnHelp(opt, usage) {
  if (opt.help) {
    console.log(usage);
    process.exit(0);
  }
}

/** A reader of whole-number options: a value outside [min, max] prints the problem and `usage`, and exits 2. */
export function intReader(usage) {
  return (name, text, min, max) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      console.error(`--${name} takes a whole number from ${min} to ${max}\n${usage}`);
      process.exit(2);
    }
    return n;
  };
}
