#!/usr/bin/python3
"""Dev-only: SentencePiece golden tables (text -> ids -> pieces -> decoded) for the TypeScript tokenizer tests.

Run with Debian's python3 (python3-sentencepiece): /usr/bin/python3 scripts/dev/golden_tokenizer.py
Writes test/fixtures/tokenizer/{bilingual.model, stories260K.json, bilingual.json}. The bilingual model is trained here
on a small English/Chinese text written for this purpose, with byte fallback, a user-defined symbol and Chinese pieces,
so tests cover what Chinese-LLaMA-Alpaca-2's tokenizer does without shipping its 800 KB model.
"""
import io
import json
import os
import sys

import sentencepiece as spm

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'tokenizer')
STORIES = os.path.join(ROOT, 'test', 'fixtures', 'stories260K', 'tokenizer.model')

CORPUS_EN = """Once upon a time there was a little girl who loved to read books in the garden.
The model learns a low-rank update for each attention projection while the base weights stay frozen.
A checkpoint holds only the adapter, never the full model, so you always need the base model it was trained on.
Merging adds the scaled product of two small matrices to the original weight and rounds it once.
We tested the engine on a laptop with two cores and eight gigabytes of memory in 2024.
Numbers like 3.14159, 42, 1000 and 65536 appear in logs, and so do dates like 2023-07-15.
The quick brown fox jumps over the lazy dog while the cat sleeps on the warm windowsill.
Please write a short story about a robot who learns to paint the sky at sunset.
"""

CORPUS_ZH = """从前有一个小女孩，她喜欢在花园里读书。
模型为每个注意力投影学习一个低秩更新，而基础权重保持不变。
检查点只保存适配器，而不是完整的模型，所以你总是需要训练时使用的基础模型。
合并把两个小矩阵的缩放乘积加到原始权重上，并且只舍入一次。
我们在一台有两个核心和八吉字节内存的笔记本电脑上测试了引擎。
请写一个关于机器人学习在日落时画天空的短故事。
今天天气很好，我们一起去公园散步吧。
中文语言模型需要更大的词表来表示常用汉字和词语。
"""

CASES = [
    ('english', 'Once upon a time there was a little girl.'),
    ('english-2', 'The quick brown fox jumps over the lazy dog!'),
    ('chinese', '从前有一个小女孩，她喜欢读书。'),
    ('chinese-2', '今天天气很好'),
    ('mixed', 'LoRA 适配器 adapter 合并 merge 2024年'),
    ('emoji', 'I love 🦙 and 🤗 very much 😀'),
    ('whitespace-runs', 'a  b   c    d'),
    ('leading-spaces', '   leading spaces'),
    ('trailing-spaces', 'trailing spaces   '),
    ('tabs-newlines', 'line one\nline two\n\n\tindented\tcell\r\nend'),
    ('digits', 'Pi is 3.14159 and 1234567890 follows 0042.'),
    ('byte-fallback', 'Ω ж ẞ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 é ñ ü ß'),
    ('rare-cjk', '龘靐齉'),
    ('symbols', '<s> </s> <unk> <sep> [INST] {x} #1 @home'),
    ('user-defined', 'question<sep>answer'),
    ('single-space', ' '),
    ('only-newline', '\n'),
    ('empty', ''),
    ('long', 'The model learns a low-rank update for each attention projection while the base weights stay frozen. ' * 3),
]


def train_bilingual(path_prefix):
    corpus = (CORPUS_EN + CORPUS_ZH) * 4
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus.splitlines()),
        model_prefix=path_prefix,
        model_type='bpe',
        vocab_size=600,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        user_defined_symbols=['<sep>'],
        normalization_rule_name='identity',
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1,
        seed_sentencepiece_size=10000,
        minloglevel=2,
    )


def table(model_path, name):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    rows = []
    for label, text in CASES:
        ids = sp.encode(text)
        rows.append({
            'label': label,
            'text': text,
            'ids': ids,
            'pieces': [sp.id_to_piece(i) for i in ids],
            'decoded': sp.decode(ids),
        })
    # Decoding of id sequences that encode() never produces: control ids, <unk>, a split multi-byte character.
    byte_ids = [sp.piece_to_id('<0x%02X>' % b) for b in '🦙'.encode('utf-8')]
    decode_cases = [
        [sp.bos_id()] + sp.encode('Hello world') + [sp.eos_id()],
        [sp.unk_id()] + sp.encode('x'),
        sp.encode('a') + byte_ids,
        byte_ids[:2] + sp.encode('b'),
    ]
    return {
        'model': name,
        'vocabSize': sp.get_piece_size(),
        'bos': sp.bos_id(), 'eos': sp.eos_id(), 'unk': sp.unk_id(),
        'cases': rows,
        'decode': [{'ids': ids, 'decoded': sp.decode(ids)} for ids in decode_cases],
    }


def compact_json(data):
    """One case per line: small diffs when the goldens change."""
    head = {k: v for k, v in data.items() if k not in ('cases', 'decode')}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ',']
    for key in ('cases', 'decode'):
        rows = [' ' + json.dumps(r, ensure_ascii=False) for r in data[key]]
        lines.append(' "%s": [\n' % key + ',\n'.join(rows) + '\n ]' + (',' if key == 'cases' else ''))
    return '\n'.join(lines) + '\n}\n'


def main():
    os.makedirs(OUT, exist_ok=True)
    prefix = os.path.join(OUT, 'bilingual')
    train_bilingual(prefix)
    os.remove(prefix + '.vocab')
    for name, path in (('stories260K', STORIES), ('bilingual', prefix + '.model')):
        data = table(path, name)
        with io.open(os.path.join(OUT, name + '.json'), 'w', encoding='utf-8') as f:
            f.write(compact_json(data))
        print(name, data['vocabSize'], 'pieces,', len(data['cases']), 'cases', file=sys.stderr)


if __name__ == '__main__':
    main()
