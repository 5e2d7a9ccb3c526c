import type { StepLoss } from './training';

const SERIES = [
  { key: 'total', colour: '#1f2a44', label: 'total' },
  { key: 'confidence', colour: '#e6194b', label: 'confidence' },
  { key: 'localization', colour: '#3cb44b', label: 'localization' },
] as const;

/** Draws the loss terms against the step (log-scaled y), with a legend. */
export function drawLossChart(canvas: HTMLCanvasElement, losses: readonly StepLoss[]): void {
  const context = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const pad = { left: 48, right: 12, top: 24, bottom: 28 };
  context.clearRect(0, 0, width, height);
  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  context.font = '12px system-ui, sans-serif';
  context.fillStyle = '#333';
  if (losses.length === 0) {
    context.fillText('loss per step appears here while training', pad.left, height / 2);
    return;
  }
  const values = losses.flatMap((l) => SERIES.map((s) => l[s.key])).filter((v) => v > 0);
  const yMin = Math.log10(Math.min(...values));
  const yMax = Math.log10(Math.max(...values));
  const span = Math.max(yMax - yMin, 1e-6);
  const lastStep = losses[losses.length - 1]!.step;
  const firstStep = losses[0]!.step;
  const x = (step: number): number =>
    pad.left +
    ((step - firstStep) / Math.max(lastStep - firstStep, 1)) * (width - pad.left - pad.right);
  const y = (v: number): number =>
    pad.top + (1 - (Math.log10(v) - yMin) / span) * (height - pad.top - pad.bottom);
  context.strokeStyle = '#ccd';
  context.strokeRect(
    pad.left,
    pad.top,
    width - pad.left - pad.right,
    height - pad.top - pad.bottom,
  );
  context.fillText(
    `${10 ** yMax < 10 ? (10 ** yMax).toFixed(2) : (10 ** yMax).toFixed(1)}`,
    4,
    pad.top + 4,
  );
  context.fillText(`${(10 ** yMin).toFixed(2)}`, 4, height - pad.bottom);
  context.fillText(`step ${firstStep}`, pad.left, height - 8);
  context.fillText(`step ${lastStep}`, width - pad.right - 60, height - 8);
  SERIES.forEach((s, i) => {
    context.strokeStyle = s.colour;
    context.lineWidth = s.key === 'total' ? 2 : 1;
    context.beginPath();
    losses.forEach((l, j) => {
      const v = Math.max(l[s.key], 10 ** yMin);
      if (j === 0) context.moveTo(x(l.step), y(v));
      else context.lineTo(x(l.step), y(v));
    });
    context.stroke();
    context.fillStyle = s.colour;
    context.fillText(`${s.label} ${latest(losses, s.key)}`, pad.left + 8 + i * 150, 16);
  });
}

function latest(losses: readonly StepLoss[], key: 'total' | 'confidence' | 'localization'): string {
  return losses[losses.length - 1]![key].toFixed(3);
}
