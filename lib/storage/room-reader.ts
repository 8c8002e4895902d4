/**
 * Reads of a machine's room files: what lies past this process's offsets (a scan,
 * a doorbell's rooms, a commit's catch-up), one line an index record points at,
 * a room's recent posts and its creations. Readers never need the room lock: they
 * take only complete lines; only a reader holding it (a commit's catch-up) cuts a
 * torn tail or moves a corrupt line aside.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, promises as fs, readSync, statSync } from 'node:fs';
import type { ChatEvent } from '../core/event';
import type { Stored } from '../core/commit-plan';
import { parseLine, parseRoomLog } from '../core/room-log';
import { KeyedMutex } from '../common/keyed-mutex';
import type { Logger } from '../common/log';
import { timeSlicer } from '../common/time-slice';
import { roomOfFileName, type RoomHandles } from './room-handles';
import type { RoomOffsets } from './room-offsets';
import type { RoomQuarantine } from './room-quarantine';

/** A start-up scan reads at most this much of a file at once (about 1,000 events: a few ms, so it yields often). */
const SCAN_CHUNK_BYTES = 256 << 10;

/** One line an index record points at: its event, or why there is none. */
export type LineAt = { event: ChatEvent } | { corrupt: string } | { missing: string };

export class RoomReader {
  /** Per room: one read or commit at a time moves its offset. */
  readonly mutex = new KeyedMutex();

  constructor(
    private readonly handles: RoomHandles,
    private readonly offsets: RoomOffsets,
    private readonly quarantine: RoomQuarantine,
    private readonly log: Logger,
  ) {}

  async roomsOnDisk(): Promise<string[]> {
    const names = await fs.readdir(this.handles.roomsDir);
    return names.map(roomOfFileName).filter((room): room is string => room !== null).sort();
  }

  /**
   * What the given room files hold past this process's offsets, without the lock
   * (only whole lines count; a torn tail is cut by the next writer under the lock),
   * a chunk at a time, so the caller may yield between chunks.
   */
  *scanPast(rooms: Iterable<string>): Generator<Stored[]> {
    for (const room of rooms) {
      if (!this.grown(room)) continue;
      const fd = openSync(this.handles.fileOf(room), 'r');
      try {
        for (;;) {
          const chunk = this.readPast(room, fd, false, SCAN_CHUNK_BYTES);
          if (chunk.length === 0) break;
          yield chunk;
        }
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Every room whose file holds more than this process has read, yielding to the event loop as it goes (100,000 stats). */
  async roomsGrown(): Promise<string[]> {
    const slice = timeSlicer();
    const grown: string[] = [];
    for (const room of await this.roomsOnDisk()) {
      if (this.grown(room)) grown.push(room);
      await slice();
    }
    return grown;
  }

  private grown(room: string): boolean {
    try {
      return statSync(this.handles.fileOf(room)).size > this.offsets.of(room);
    } catch {
      return false; // no such file (yet)
    }
  }

  /** Complete lines appended to a room since this process last read it. */
  async readNew(room: string): Promise<Stored[]> {
    return this.mutex.run(room, async () => {
      const fd = this.handles.get(room);
      return fd === null ? [] : this.readPast(room, fd, false);
    });
  }

  /**
   * Under the lock (a commit's catch-up): the complete lines other writers appended
   * to the room since this process last read it, a torn tail (its writer is dead) cut off.
   */
  readPastRepairing(room: string): Stored[] {
    return this.readPast(room, this.handles.getOrCreate(room), true);
  }

  /**
   * The event on the line at `offset`: `corrupt` if a whole line is there but is no
   * event (the file's damage), `missing` if there is no such line (the caller's offset is wrong).
   */
  readLine(room: string, offset: number, length: number): LineAt {
    const bytes = this.readLineBytes(room, offset, length);
    if (typeof bytes === 'string') return { missing: bytes };
    const event = parseLine(bytes.toString('utf8'));
    return typeof event === 'string' ? { corrupt: event } : { event };
  }

  /** The bytes of the line at `offset` (without its newline), or why there is no whole line there. */
  readLineBytes(room: string, offset: number, length: number): Buffer | string {
    const fd = this.handles.get(room);
    if (fd === null) return 'no such room file';
    const buf = Buffer.allocUnsafe(length + 1);
    const got = readSync(fd, buf, 0, buf.length, offset);
    if (got !== buf.length || buf[length] !== 0x0a) return 'no whole line there';
    return buf.subarray(0, length);
  }

  /**
   * The room's posts in the last part of its file read so far, in file order: at
   * least `keep` posts when the file has them (reads backwards, doubling).
   */
  readRecentPosts(room: string, keep: number): ChatEvent[] {
    const end = this.offsets.of(room);
    const fd = end > 0 ? this.handles.get(room) : null;
    if (fd === null) return [];
    for (let span = 16 << 10; ; span *= 2) {
      const start = Math.max(0, end - span);
      const buf = Buffer.alloc(end - start);
      readSync(fd, buf, 0, buf.length, start);
      // A chunk that starts mid-file starts mid-line: skip to the first whole line.
      const from = start === 0 ? 0 : buf.indexOf(0x0a) + 1;
      const posts = parseRoomLog(buf.subarray(from)).events.filter((e) => e.kind === 'post');
      if (posts.length >= keep || start === 0) return posts;
    }
  }

  /**
   * Every create event in the part of a room file read so far: the room's key is the
   * earliest one's, and machines that created the same name apart hold several. Read in
   * 1 MB pieces; only lines naming the kind are parsed (a post's text cannot hold the
   * unescaped quotes).
   */
  readCreates(room: string): ChatEvent[] {
    const end = this.offsets.of(room);
    const fd = end > 0 ? this.handles.get(room) : null;
    if (fd === null) return [];
    const creates: ChatEvent[] = [];
    let rest = '';
    for (let at = 0; at < end; ) {
      const buf = Buffer.alloc(Math.min(1 << 20, end - at));
      const got = readSync(fd, buf, 0, buf.length, at);
      if (got <= 0) break;
      at += got;
      const lines = (rest + buf.toString('utf8', 0, got)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"kind":"create"')) continue;
        const e = parseLine(line);
        if (typeof e !== 'string' && e.kind === 'create') creates.push(e);
      }
    }
    return creates;
  }

  /** The first event of a room file (its creation, normally). */
  readFirst(room: string): ChatEvent | null {
    const fd = this.handles.get(room);
    if (fd === null) return null;
    const buf = Buffer.alloc(Math.min(this.offsets.of(room), 64 << 10));
    readSync(fd, buf, 0, buf.length, 0);
    return parseRoomLog(buf).events[0] ?? null;
  }

  /**
   * Reads complete lines from the room's offset to the end (or `maxBytes` of it).
   * With `repair` (only under the lock) a torn tail is cut off, its writer being
   * dead since the lock is ours, and a corrupt line is moved aside at once.
   */
  private readPast(room: string, fd: number, repair: boolean, maxBytes = Infinity): Stored[] {
    const offset = this.offsets.of(room);
    const { size } = fstatSync(fd);
    if (size <= offset) return [];
    const buf = Buffer.alloc(Math.min(size - offset, maxBytes));
    const bytesRead = readSync(fd, buf, 0, buf.length, offset);
    const parsed = parseRoomLog(buf.subarray(0, bytesRead), offset);
    if (parsed.consumed === 0 && bytesRead < size - offset) {
      // One line longer than the chunk: read up to its end.
      return this.readPast(room, fd, repair, maxBytes * 2);
    }
    for (const bad of parsed.corrupt) {
      if (repair) this.quarantine.move(room, bad);
      else this.quarantine.suspect(room, bad); // moved aside once a writer holds the lock
    }
    this.offsets.set(room, offset + parsed.consumed);
    if (repair && parsed.tail > 0 && offset + bytesRead === size) {
      ftruncateSync(fd, offset + parsed.consumed);
      this.log.warn('repaired torn last line in room file', { room, offset: offset + parsed.consumed, bytes: parsed.tail });
    }
    return parsed.events.map((event, i) => ({ event, offset: parsed.offsets[i], length: parsed.lengths[i] }));
  }
}
