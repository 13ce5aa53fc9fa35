import type { CanvasPixels } from "./protocol.js";

/** Stroke width in canvas pixels: MNIST's pen is about 2.5 of 28 pixels wide, the canvas is 280. */
const PEN = 22;
const LATENCIES_KEPT = 50;

/**
 * The drawing canvas: mouse, pen or touch strokes in black on white. Every change asks for a prediction
 * of the whole canvas; while one is being computed, later changes wait and go as one request, so the
 * worker never falls behind the pen.
 */
export class DrawingPad {
  private readonly context: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private nextId = 1;
  private inFlight: number | null = null;
  /** When the oldest change not yet sent for prediction happened (performance.now()), or null. */
  private dirtySince: number | null = null;
  private readonly sentAt = new Map<number, number>();
  private readonly latencies: number[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly request: (id: number, pixels: CanvasPixels) => void,
  ) {
    const context = canvas.getContext("2d", { willReadFrequently: true });
    if (context === null) throw new Error("mnist-web: this browser has no 2D canvas");
    this.context = context;
    this.clear();
    canvas.addEventListener("pointerdown", (event) => {
      canvas.setPointerCapture(event.pointerId);
      this.last = this.point(event);
      this.stroke(this.last, this.last, event.timeStamp);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (this.last === null) return;
      const next = this.point(event);
      this.stroke(this.last, next, event.timeStamp);
      this.last = next;
    });
    const end = (): void => {
      this.last = null;
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  clear(): void {
    this.context.fillStyle = "#fff";
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.dirtySince = null;
    this.showPending();
  }

  /** Draws a picture (a dropped PNG or JPEG) to fill the canvas, aspect kept, and predicts it. */
  async drawPicture(file: Blob): Promise<void> {
    const bitmap = await createImageBitmap(file);
    const { width, height } = this.canvas;
    const scale = Math.min(width / bitmap.width, height / bitmap.height);
    const w = bitmap.width * scale;
    const h = bitmap.height * scale;
    this.clear();
    this.context.drawImage(bitmap, (width - w) / 2, (height - h) / 2, w, h);
    bitmap.close();
    this.changed(performance.now());
  }

  /** Predicts the canvas again (the model changed). */
  repredict(): void {
    this.changed(performance.now());
  }

  /** The prediction `id` arrived and is shown: records the time since the change it answers, sends any later change. */
  answered(id: number, latencyText: HTMLElement): void {
    const since = this.sentAt.get(id);
    this.sentAt.delete(id);
    if (since !== undefined) {
      this.latencies.push(performance.now() - since);
      if (this.latencies.length > LATENCIES_KEPT) this.latencies.shift();
      const sorted = [...this.latencies].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      latencyText.textContent = `draw → prediction: ${median.toFixed(0)} ms (median of ${sorted.length})`;
      latencyText.dataset.medianMs = String(median);
    }
    if (this.inFlight === id) this.inFlight = null;
    this.flush();
    this.showPending();
  }

  /** `data-pending` on the canvas: whether a change still waits for its prediction (tests wait for "false"). */
  private showPending(): void {
    this.canvas.dataset.pending = String(this.inFlight !== null || this.dirtySince !== null);
  }

  private point(event: PointerEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * this.canvas.width) / rect.width, y: ((event.clientY - rect.top) * this.canvas.height) / rect.height };
  }

  private stroke(from: { x: number; y: number }, to: { x: number; y: number }, at: number): void {
    const c = this.context;
    c.strokeStyle = "#000";
    c.lineWidth = PEN;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
    this.changed(at);
  }

  private changed(at: number): void {
    this.dirtySince ??= at;
    this.flush();
    this.showPending();
  }

  private flush(): void {
    if (this.inFlight !== null || this.dirtySince === null) return;
    const id = this.nextId++;
    this.inFlight = id;
    this.sentAt.set(id, this.dirtySince);
    this.dirtySince = null;
    const image = this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
    this.request(id, { width: image.width, height: image.height, data: image.data });
  }
}
