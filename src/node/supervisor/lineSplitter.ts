// Splits a byte stream into text lines without ever holding an unbounded partial line: a trainer
// that prints megabytes without a newline (a tensor dump, a progress bar on \r) must not grow the
// extension host's memory. The full bytes still go to the log file; only the in-memory view is cut.
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private partialDropped = 0;
  /** a chunk ended on \r: a \n at the start of the next one belongs to the same line break */
  private pendingCr = false;

  constructor(
    private readonly maxLineChars: number,
    private readonly emit: (line: string) => void,
  ) {}

  push(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    let start = 0;
    if (this.pendingCr && text.charCodeAt(0) === 10) start = 1;
    this.pendingCr = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // \r alone ends a line too: progress bars redraw with it and would otherwise pile up.
      if (c === 10 || c === 13) {
        this.append(text.slice(start, i));
        this.flushLine();
        if (c === 13) {
          if (i + 1 === text.length) this.pendingCr = true;
          else if (text.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
    }
    this.append(text.slice(start));
  }

  end(): void {
    this.append(this.decoder.end());
    if (this.partial.length > 0 || this.partialDropped > 0) this.flushLine();
  }

  private append(s: string): void {
    if (!s) return;
    const room = this.maxLineChars - this.partial.length;
    if (room >= s.length) {
      this.partial += s;
    } else {
      if (room > 0) this.partial += s.slice(0, room);
      this.partialDropped += s.length - Math.max(room, 0);
    }
  }

  private flushLine(): void {
    let line = this.partial;
    if (this.partialDropped > 0) line += ` … [${this.partialDropped} more characters on this line, see the log file]`;
    this.partial = '';
    this.partialDropped = 0;
    this.emit(line);
  }
}
