// The hypervisor's command line: space-separated words, each "key=value" or
// a bare "flag". Unknown words are kept for later consumers and not an error.

export class CommandLine {
  private keys: string[] = [];
  private values: string[] = [];

  constructor(text: string) {
    const words = text.split(" ");
    for (let i = 0; i < words.length; i++) {
      const word = words[i];
      if (word.length == 0) continue;
      const eq = word.indexOf("=");
      this.keys.push(eq < 0 ? word : word.substring(0, eq));
      this.values.push(eq < 0 ? "" : word.substring(eq + 1));
    }
  }

  has(key: string): bool {
    return this.keys.includes(key);
  }

  // The command line with the values of `key` hidden: what may be logged
  // of a line that carries a secret.
  hiding(key: string): string {
    let text = "";
    for (let i = 0; i < this.keys.length; i++) {
      const value = this.keys[i] == key ? "(hidden)" : this.values[i];
      text += (i == 0 ? "" : " ") + this.keys[i] + (value.length > 0 ? "=" + value : "");
    }
    return text;
  }

  // The value of the last `key=value`, or `fallback`.
  get(key: string, fallback: string = ""): string {
    const i = this.keys.lastIndexOf(key);
    return i < 0 ? fallback : this.values[i];
  }
}
