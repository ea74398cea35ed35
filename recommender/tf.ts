// The one place fedrec imports tfjs. In Node only the full @tensorflow/tfjs
// bundle registers every op's gradient (tfjs-core's CommonJS build has none);
// it costs ~150 ms more at start-up than tfjs-core alone.
import * as tf from '@tensorflow/tfjs';

// Silences the "install tfjs-node" banner and skips debug-only checks.
tf.env().set('PROD', true);

export { tf };
