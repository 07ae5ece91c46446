// facesr serve's page: sends photos one at a time to POST /v1/enhance (output=json) and shows the
// photo with face boxes, before/after sliders, and downloads. No dependencies, works offline.
/* global document, XMLHttpRequest -- browser code, linted with the repository's Node globals */
const $ = (sel, el = document) => el.querySelector(sel);
const filesInput = $('#files');
const drop = $('#drop');
const results = $('#results');
const announce = (text) => ($('#status').textContent = text);

const queue = [];
let busy = false;

function enqueue(files) {
  for (const file of files)
    if (file.type.startsWith('image/') || file.type === '') queue.push({ file, faces: null });
  pump();
}

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const job = queue.shift();
    await processPhoto(job.file, job.faces, job.section);
  }
  busy = false;
}

/** Options from the form, plus the faces picked (indices) for a re-run. */
function options(faces) {
  const p = new URLSearchParams({ output: 'json' });
  p.set('scale', $('#scale').value);
  const max = $('#maxSize').value.trim();
  const min = $('#minSize').value.trim();
  if (max) p.set('maxSize', max);
  if (min) p.set('minSize', min);
  if (faces) p.set('faces', faces.join(','));
  return p;
}

/** POSTs the photo; resolves to {status, body, retryAfter}; reports upload progress. */
function send(file, params, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/enhance?${params}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress('upload', e.loaded / e.total);
    xhr.upload.onload = () => onProgress('processing');
    xhr.onload = () =>
      resolve({
        status: xhr.status,
        body: xhr.response,
        retryAfter: Number(xhr.getResponseHeader('retry-after')),
      });
    xhr.onerror = () => resolve({ status: 0, body: null });
    const form = new FormData();
    form.append('image', file, file.name);
    xhr.send(form);
  });
}

function newSection(file) {
  const section = $('#photo-template').content.firstElementChild.cloneNode(true);
  $('.photo-title', section).textContent = file.name;
  results.prepend(section);
  return section;
}

async function processPhoto(file, faces, existing) {
  const section = existing ?? newSection(file);
  const bar = $('progress', section);
  const text = $('.progress-text', section);
  const error = $('.error', section);
  error.hidden = true;
  $('.progress-row', section).hidden = false;
  bar.value = 0;
  text.textContent = 'Waiting…';
  const onProgress = (stage, f) => {
    if (stage === 'upload') {
      bar.value = Math.round(f * 100);
      text.textContent = `Uploading ${bar.value}%`;
    } else {
      bar.removeAttribute('value'); // indeterminate while the server works
      text.textContent = 'Finding and restoring faces…';
    }
  };
  for (;;) {
    const r = await send(file, options(faces), onProgress);
    if (r.status === 429) {
      const s = r.retryAfter > 0 ? r.retryAfter : 2;
      text.textContent = `The server is busy; trying again in ${s} s…`;
      await new Promise((ok) => setTimeout(ok, s * 1000));
      continue;
    }
    $('.progress-row', section).hidden = true;
    if (r.status !== 200) {
      error.hidden = false;
      error.textContent = `${file.name}: ${r.body?.message ?? (r.status ? `HTTP ${r.status}` : 'the server cannot be reached')}`;
      announce(error.textContent);
      return;
    }
    render(section, file, r.body);
    const restored = r.body.faces.filter((f) => f.restored).length;
    announce(`${file.name}: ${restored} of ${r.body.faces.length} faces restored`);
    return;
  }
}

function dataUrlToBlob(url) {
  const [head, b64] = url.split(',');
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: head.slice(5, head.indexOf(';')) });
}

/** A before/after pair: the slider clips the before image to its left part. */
function wireSlider(compare, slider) {
  const set = () => {
    const v = Number(slider.value);
    $('.before', compare).style.clipPath = `inset(0 ${100 - v}% 0 0)`;
    compare.style.setProperty('--pos', `${v}%`);
    slider.setAttribute('aria-valuetext', `${v}% before, ${100 - v}% after`);
  };
  slider.addEventListener('input', set);
  set();
}

const stem = (name) => name.replace(/\.[^.]*$/, '') || 'photo';
const REASONS = {
  'too-small': 'left as it was: smaller than the smallest size',
  'too-large': 'left as it was: larger than the largest size',
  'not-selected': 'left as it was: not ticked',
};

function render(section, file, rep) {
  const result = $('.result', section);
  result.hidden = false;
  const restored = rep.faces.filter((f) => f.restored);
  $('.summary', section).textContent =
    `${rep.input.width}x${rep.input.height} → ${rep.output.width}x${rep.output.height}, ` +
    `${restored.length} of ${rep.faces.length} faces restored (model ${rep.model}, detector ${rep.detector}).`;

  const whole = $('.compare.whole', section);
  const after = $('.after', whole);
  const before = $('.before', whole);
  if (section.dataset.url) URL.revokeObjectURL(section.dataset.url);
  const blob = dataUrlToBlob(rep.image);
  const url = URL.createObjectURL(blob);
  section.dataset.url = url;
  after.src = url;
  after.alt = `${file.name} with its faces restored`;
  if (!section.dataset.original) section.dataset.original = URL.createObjectURL(file);
  before.src = section.dataset.original;
  before.alt = `${file.name} as uploaded`;
  wireSlider(whole, $('.controls .slider', section));

  const boxes = $('.boxes', whole);
  boxes.replaceChildren();
  for (const f of rep.faces) {
    const [x1, y1, x2, y2] = f.box;
    const b = document.createElement('div');
    b.className = f.restored ? 'box' : 'box skipped';
    Object.assign(b.style, {
      left: `${(x1 / rep.input.width) * 100}%`,
      top: `${(y1 / rep.input.height) * 100}%`,
      width: `${((x2 - x1) / rep.input.width) * 100}%`,
      height: `${((y2 - y1) / rep.input.height) * 100}%`,
    });
    const label = document.createElement('span');
    label.textContent = String(f.index);
    b.append(label);
    boxes.append(b);
  }
  const show = $('.show-boxes', section);
  show.onchange = () => boxes.classList.toggle('hidden', !show.checked);

  const ext = rep.output.format === 'jpeg' ? 'jpg' : rep.output.format;
  const dl = $('.download', section);
  dl.href = url;
  dl.download = `${stem(file.name)}-restored.${ext}`;

  $('.faces-hint', section).textContent = rep.faces.length
    ? 'Numbers match the boxes on the photo. Tick faces and choose “Restore the ticked faces” to restore exactly those.'
    : 'No face was found in this photo.';
  const list = $('.faces', section);
  list.replaceChildren();
  for (const f of rep.faces) list.append(faceItem(f, file));
  $('.rerun', section).hidden = rep.faces.length === 0;
  $('.rerun', section).onclick = () => {
    const picked = [...list.querySelectorAll('.pick')].filter((c) => c.checked).map((c) => Number(c.value));
    if (!picked.length) return announce('Tick at least one face first.');
    queue.push({ file, faces: picked, section });
    pump();
  };
}

function faceItem(f, file) {
  const li = $('#face-template').content.firstElementChild.cloneNode(true);
  const size = `${Math.round(f.nativeSize)} px`;
  $('.face-title', li).textContent =
    `Face ${f.index} · ${size} · ${f.restored ? 'restored' : (REASONS[f.skipped] ?? 'left as it was')}`;
  const pick = $('.pick', li);
  pick.value = String(f.index);
  pick.checked = f.restored;
  $('.pick-text', li).textContent = `Restore face ${f.index}`;
  const compare = $('.face-compare', li);
  const slider = $('.slider', li);
  const link = $('.download-face', li);
  if (f.restored && f.after) {
    $('.after', compare).src = f.after;
    $('.after', compare).alt = `face ${f.index} restored`;
    $('.before', compare).src = f.before;
    $('.before', compare).alt = `face ${f.index} before (up-sampled)`;
    $('.slider-text', li).textContent = `Before / after, face ${f.index}`;
    wireSlider(compare, slider);
    link.href = f.after;
    link.download = `${stem(file.name)}-face-${f.index}.png`;
    link.textContent = `Download face ${f.index} (PNG)`;
  } else {
    compare.remove();
    $('.face-slider-label', li).remove();
    link.remove();
  }
  return li;
}

filesInput.addEventListener('change', () => {
  enqueue(filesInput.files);
  filesInput.value = '';
});
for (const ev of ['dragenter', 'dragover'])
  document.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
for (const ev of ['dragleave', 'drop'])
  document.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.remove('over');
  });
document.addEventListener('drop', (e) => enqueue(e.dataTransfer?.files ?? []));
