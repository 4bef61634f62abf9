"""Reference for the language-model tokenization: AWD-LSTM's data.py (salesforce/awd-lstm-lm), without torch.

Usage: python3 awd_data.py <train> <valid> <test>
Prints JSON: vocabulary size, token counts, sha256 of each split's ids as little-endian int32, and the
first 12 ids of train. Dictionary/Corpus follow data.py: words = line.split() + ['<eos>'], ids in
first-occurrence order over train, then valid, then test.
"""
import hashlib
import json
import struct
import sys


class Dictionary:
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]


def tokenize(dictionary, path):
    ids = []
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            for word in line.split() + ["<eos>"]:
                ids.append(dictionary.add_word(word))
    return ids


def main():
    d = Dictionary()
    splits = [tokenize(d, p) for p in sys.argv[1:4]]
    out = {"vocabularySize": len(d.idx2word), "counts": [len(s) for s in splits]}
    out["sha256"] = [hashlib.sha256(struct.pack("<%di" % len(s), *s)).hexdigest() for s in splits]
    out["firstTrainIds"] = splits[0][:12]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
