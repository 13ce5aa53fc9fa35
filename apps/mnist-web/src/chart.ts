import uPlot from "uplot";

const MAX_POINTS = 4000;
/** Narrow enough for a phone held upright (a 390 px screen leaves about 300 px inside the panel). */
const MIN_WIDTH = 240;

/**
 * The live chart: training loss per report (left axis) and test accuracy (right axis) against the step.
 * Adding a point does not draw it: draw() does, at the next frame.
 */
export class TrainingChart {
  private readonly steps: number[] = [];
  private readonly loss: (number | null)[] = [];
  private readonly accuracy: (number | null)[] = [];
  private readonly plot: uPlot;
  private pending = false;

  constructor(container: HTMLElement) {
    const options: uPlot.Options = {
      width: Math.max(MIN_WIDTH, container.clientWidth),
      height: 260,
      // The legend names the series; values would show only under the cursor, "–" otherwise.
      legend: { live: false },
      scales: { x: { time: false }, loss: { range: (_u, _min, max) => [0, Math.max(0.5, max)] }, accuracy: { range: [0, 1] } },
      series: [
        { label: "step" },
        { label: "loss", scale: "loss", stroke: "#d9480f", width: 1.5, spanGaps: true, value: (_u, v) => (v === null ? "–" : v.toFixed(4)) },
        { label: "test accuracy", scale: "accuracy", stroke: "#2f6fdd", width: 2, spanGaps: true, points: { show: true, size: 5 }, value: (_u, v) => (v === null ? "–" : `${(v * 100).toFixed(1)}%`) },
      ],
      axes: [
        { label: "step" },
        { scale: "loss", label: "loss", stroke: "#d9480f" },
        { scale: "accuracy", side: 1, label: "test accuracy", stroke: "#2f6fdd", grid: { show: false }, values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
      ],
    };
    this.plot = new uPlot(options, [[], [], []], container);
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(MIN_WIDTH, container.clientWidth), height: 260 })).observe(container);
  }

  addLoss(step: number, loss: number): void {
    this.add(step, loss, null);
  }

  addAccuracy(step: number, accuracy: number): void {
    const last = this.steps.length - 1;
    if (last >= 0 && this.steps[last] === step) this.accuracy[last] = accuracy;
    else this.add(step, null, accuracy);
  }

  private add(step: number, loss: number | null, accuracy: number | null): void {
    if (this.steps.length >= MAX_POINTS) this.thin();
    this.steps.push(step);
    this.loss.push(loss);
    this.accuracy.push(accuracy);
  }

  /** Halves the loss points (accuracy points all stay), so that hours of training keep the chart small. */
  private thin(): void {
    let kept = 0;
    for (let i = 0; i < this.steps.length; i++) {
      if (i % 2 === 1 && this.accuracy[i] === null && i !== this.steps.length - 1) continue;
      this.steps[kept] = this.steps[i]!;
      this.loss[kept] = this.loss[i] ?? null;
      this.accuracy[kept] = this.accuracy[i] ?? null;
      kept++;
    }
    this.steps.length = this.loss.length = this.accuracy.length = kept;
  }

  /** Draws the points added so far, at the next frame (once per frame at most). */
  draw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData([this.steps, this.loss, this.accuracy]);
    });
  }
}
