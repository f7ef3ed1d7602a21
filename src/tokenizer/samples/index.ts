/**
 * Built-in sample texts for `tokenizer efficiency`, written for Pedigree (not taken from any corpus).
 * Kept as TypeScript strings so they ship with the compiled package. Each is short and of one kind,
 * so a per-kind weakness (CJK, digits, indentation) shows up instead of averaging away.
 */
export interface Sample {
  name: string;
  kind: "prose" | "cjk" | "code" | "numbers" | "whitespace" | "user";
  text: string;
}

const ENGLISH = `The lighthouse keeper kept two logs. In the first she wrote the weather: wind from the
north-west, a falling glass, rain by evening. In the second she wrote down every ship that passed,
its flag, its heading and the hour, because nobody else on the island would remember. Years later a
harbour clerk compared her second log with the insurance records and found three vessels that had
sailed under borrowed names.`;

const CHINESE = `清晨的集市上，卖菜的老人把新鲜的青菜整齐地摆在竹筐里。她说这些菜是昨天傍晚从山坡上的菜园里摘下来的，
用井水洗过，所以叶子还很脆。旁边的小贩在煮豆浆，热气从锅里慢慢升起来，街上的人越来越多。`;

const JAPANESE = `駅前の小さな本屋は、夜九時まで開いている。店主は古い地図を集めるのが趣味で、
棚の奥には明治時代の町の地図が何枚も並んでいる。雨の日には客が少ないので、店主はお茶を入れて、
一枚ずつ地図を広げながら、昔の道がどこへ続いていたのかを考えている。`;

const CODE = `def moving_average(values, window):
    """Mean of each run of \`window\` consecutive values."""
    if window <= 0:
        raise ValueError("window must be positive")
    total = sum(values[:window])
    out = [total / window]
    for i in range(window, len(values)):
        total += values[i] - values[i - window]
        out.append(total / window)
    return out
`;

const NUMBERS = `Invoice 2024-118: 17 units at 3.25 each, 942 units at 0.875 each, shipping 1,204.50.
Readings: 98.6, 101.3, 99.9, 100.04, 97.25; serial 8830152274; ratio 0.000314159; year 1987.`;

/** Indented YAML-like block plus a table aligned with spaces: long whitespace runs. */
const WHITESPACE = `server:
        host:        localhost
        port:        8080
        retries:     3

name            size        owner
alpha           12          root
beta            1024        build
`;

export const BUILTIN_SAMPLES: readonly Sample[] = [
  { name: "english", kind: "prose", text: ENGLISH },
  { name: "chinese", kind: "cjk", text: CHINESE },
  { name: "japanese", kind: "cjk", text: JAPANESE },
  { name: "python", kind: "code", text: CODE },
  { name: "numbers", kind: "numbers", text: NUMBERS },
  { name: "whitespace", kind: "whitespace", text: WHITESPACE },
];

/**
 * Probes for pathologies: texts made of one kind of unit, so tokens per unit is read off directly.
 * Han characters of the Chinese sample (no punctuation), 48 digits of no pattern, 32 spaces.
 */
export const PROBES = {
  cjk: [...CHINESE].filter((c) => /\p{Script=Han}/u.test(c)).join(""),
  digits: "730841926501378246159073864215093827461905283746",
  spaces: " ".repeat(32),
} as const;
