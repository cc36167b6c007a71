// Scrolls a target inside a scroller whose content sizes are estimates: off-screen chunks of a long
// trace are skipped (content-visibility: auto) and count as 240 px until first laid out. One
// scroll lands near the target; the chunks brought on screen then take their real sizes and move
// it, so the scroll is corrected on the following frames until the target stays put.
let pending = 0;

/**
 * Keeps `target()` (a rect in the viewport) at a third of the scroller's height, over a few frames.
 * A newer call cancels an older one.
 */
export function scrollIntoScroller(scroller: HTMLElement, target: () => DOMRect | null, done?: () => void): void {
  const ticket = ++pending;
  let stable = 0;
  let frames = 0;
  const step = () => {
    if (ticket !== pending || !scroller.isConnected) return;
    const r = target();
    const sr = scroller.getBoundingClientRect();
    if (r) {
      const delta = r.top - sr.top - sr.height / 3;
      if (Math.abs(delta) < 4) stable++;
      else {
        stable = 0;
        scroller.scrollTop += delta;
      }
    }
    if (stable >= 2 || ++frames > 20) {
      done?.();
      return;
    }
    requestAnimationFrame(step);
  };
  step();
}
