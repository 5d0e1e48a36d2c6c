/**
 * Sync mode: which flow time the video is showing, and how long to hold it back when a
 * caption comes after its words.
 *
 * captioncast's HLS stamps a frame at flow time t with the MPEG-TS PTS 900000 + 90000·t
 * (docs/playback.md); hls.js places the media timeline so that a PTS p plays at
 * `(p - initPTS) / timescale`. So the flow time on screen is
 * `currentTime + initPTS / timescale - 10`, the same mapping hls.js gives the WebVTT cues.
 * @module
 */

/** Flow time 0 is this many seconds of PTS (`-output_ts_offset 10`). */
export const FLOW_PTS_OFFSET = 10;

/** The longest hold for one late caption, in seconds. */
export const MAX_HOLD = 15;

/**
 * @param {number} currentTime the video element's
 * @param {number} initPTS from hls.js INIT_PTS_FOUND
 * @param {number} timescale from the same event
 */
export function flowTimeOf(currentTime, initPTS, timescale) {
  return currentTime + initPTS / timescale - FLOW_PTS_OFFSET;
}

/**
 * How long to pause the video so that a caption starting at `captionStart` shows with its
 * words: the time the video is past it, plus a margin for the next one; 0 when in time.
 * @param {number} videoFlowTime the flow time on screen
 * @param {number} captionStart
 * @param {number} [margin] seconds
 */
export function holdBack(videoFlowTime, captionStart, margin = 0.5) {
  const late = videoFlowTime - captionStart;
  return late > 0.25 ? Math.min(MAX_HOLD, late + margin) : 0;
}
