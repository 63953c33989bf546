// The original face-api.js nets (TensorFlow.js, CPU backend) on faces given as raw float32:
//   node reference.cjs <model dir> <faces.f32> <count> <out.json> <recognizer crop> <landmark crop>
// faces.f32: count x 112 x 112 x 3 RGB values in 0..255; a crop is "top,left,size": the square
// of the face each net is given (as face-api.js gives it a detector's box). Writes
// {descriptors, landmarks}: 128-d descriptors, and 68 landmarks in pixels of the landmark crop.
const fs = require('fs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const tf = faceapi.tf;

function weightMap(dir, name) {
  const manifest = JSON.parse(fs.readFileSync(`${dir}/${name}-weights_manifest.json`));
  const map = {};
  for (const group of manifest) {
    const data = Buffer.concat(group.paths.map((p) => fs.readFileSync(`${dir}/${p}`)));
    const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    Object.assign(map, tf.io.decodeWeights(buffer, group.weights));
  }
  return map;
}

(async () => {
  const [dir, facesPath, countText, outPath, recognizerCrop, landmarkCrop] = process.argv.slice(2);
  const crop = (face, text) => {
    const [top, left, size] = text.split(',').map(Number);
    return face.slice([0, top, left, 0], [1, size, size, 3]);
  };
  await tf.setBackend('cpu');
  await tf.ready();
  const count = Number(countText);
  const raw = fs.readFileSync(facesPath);
  const values = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const recognizer = new faceapi.FaceRecognitionNet();
  recognizer.loadFromWeightMap(weightMap(dir, 'face_recognition_model'));
  const landmarkNet = new faceapi.FaceLandmark68Net();
  landmarkNet.loadFromWeightMap(weightMap(dir, 'face_landmark_68_model'));
  const out = { descriptors: [], landmarks: [], backend: tf.getBackend(), tfjs: tf.version.tfjs };
  const size = 112 * 112 * 3;
  for (let i = 0; i < count; i += 1) {
    const face = tf.tensor4d(values.slice(i * size, (i + 1) * size), [1, 112, 112, 3]);
    out.descriptors.push(Array.from(await recognizer.computeFaceDescriptor(crop(face, recognizerCrop))));
    const landmarks = await landmarkNet.detectLandmarks(crop(face, landmarkCrop));
    out.landmarks.push(landmarks.positions.map((p) => [p.x, p.y]));
    face.dispose();
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
})();
