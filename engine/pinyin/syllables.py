"""The toneless pinyin syllable inventory, initials and fuzzy pairs.

Syllables are spelled as typed on a keyboard: toneless, ``v`` for ü (``lv``, ``nve``).
Each syllable has a small integer id (its index in :data:`SYLLABLES`), which the
lexicon and the lattice use instead of strings.
"""
from __future__ import annotations

# Toneless syllables as pypinyin spells them (v for ü), minus the interjection-only
# readings (m, n, ng, hm, hng, ê) whose letters we keep for abbreviations instead.
SYLLABLES: tuple[str, ...] = tuple("""
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong bu
ca cai can cang cao ce cei cen ceng cha chai chan chang chao che chen cheng chi chong chou chu
chua chuai chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de
dei den deng di dia dian diao die din ding diu dong dou du duan dui dun duo e ei en eng er fa
fan fang fei fen feng fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai
guan guang gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui
hun huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke
kei ken keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei len leng li
lia lian liang liao lie lin ling liu lo long lou lu luan lun luo lv lve ma mai man mang mao me
mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne nei nen neng ni nia
nian niang niao nie nin ning niu nong nou nu nuan nun nuo nv nve o ou pa pai pan pang pao pei
pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu
quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao
se sen seng sha shai shan shang shao she shei shen sheng shi shou shu shua shuai shuan shuang
shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te tei teng ti tian tiao tie
ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wong wu xi xia xian xiang xiao
xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue
yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong
zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo
""".split())

SYLLABLE_ID: dict[str, int] = {s: i for i, s in enumerate(SYLLABLES)}

# Alternative spellings people type, mapped to the canonical one.
ALIASES: dict[str, str] = {"lue": "lve", "nue": "nve"}

# Initial groups. Zero-initial syllables are grouped by their first letter (a, o, e)
# so that an abbreviation always means "the first letter(s) of each syllable".
INITIALS: tuple[str, ...] = (
    "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
    "zh", "ch", "sh", "r", "z", "c", "s", "y", "w", "a", "o", "e",
)
INITIAL_ID: dict[str, int] = {s: i for i, s in enumerate(INITIALS)}


def initial_of(syllable: str) -> str:
    """The initial group of a canonical syllable (``zhong`` -> ``zh``, ``an`` -> ``a``)."""
    if syllable[:2] in ("zh", "ch", "sh"):
        return syllable[:2]
    return syllable[0]


SYLLABLE_INITIAL: tuple[int, ...] = tuple(INITIAL_ID[initial_of(s)] for s in SYLLABLES)

# Syllable ids of each initial group.
SYLLABLES_OF_INITIAL: tuple[frozenset[int], ...] = tuple(
    frozenset(i for i, s in enumerate(SYLLABLES) if SYLLABLE_INITIAL[i] == g)
    for g in range(len(INITIALS))
)

# Every proper prefix of a syllable that is not itself a syllable or an initial,
# mapped to the syllables it can complete to (``zhon`` -> {zhong}). Used only for the
# last, still-being-typed syllable.
def _partials() -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for i, s in enumerate(SYLLABLES):
        for k in range(1, len(s)):
            p = s[:k]
            if p not in SYLLABLE_ID and p not in INITIAL_ID:
                out.setdefault(p, set()).add(i)
    return {p: frozenset(v) for p, v in out.items()}


PARTIALS: dict[str, frozenset[int]] = _partials()

MAX_SYLLABLE_LEN = max(len(s) for s in SYLLABLES)  # 6 (zhuang, shuang, chuang)

# Fuzzy pairs, off by default. Initial pairs apply to the start of a syllable, final
# pairs to its end; both directions are allowed.
FUZZY_INITIAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("z", "zh"), ("c", "ch"), ("s", "sh"), ("n", "l"), ("l", "r"), ("f", "h"),
)
FUZZY_FINAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("an", "ang"), ("en", "eng"), ("in", "ing"), ("ian", "iang"), ("uan", "uang"),
)
FUZZY_PAIR_NAMES: tuple[str, ...] = tuple(
    f"{a}/{b}" for a, b in FUZZY_INITIAL_PAIRS + FUZZY_FINAL_PAIRS
)


def split_initial(syllable: str) -> tuple[str, str]:
    """Split a syllable into (initial, final); zero-initial syllables get ``""``."""
    for ini in ("zh", "ch", "sh"):
        if syllable.startswith(ini):
            return ini, syllable[2:]
    if syllable[0] in "aoe":
        return "", syllable
    return syllable[0], syllable[1:]


def fuzzy_variants(syllable: str, pairs: frozenset[str]) -> set[str]:
    """Canonical syllables a typed syllable may stand for under the enabled fuzzy pairs.

    ``pairs`` holds names from :data:`FUZZY_PAIR_NAMES` such as ``"z/zh"``.
    The result always contains ``syllable`` itself.
    """
    out = {syllable}
    ini, fin = split_initial(syllable)
    inis, fins = {ini}, {fin}
    for a, b in FUZZY_INITIAL_PAIRS:
        if f"{a}/{b}" in pairs:
            if ini == a:
                inis.add(b)
            elif ini == b:
                inis.add(a)
    for a, b in FUZZY_FINAL_PAIRS:
        if f"{a}/{b}" in pairs:
            for f in list(fins):
                if f.endswith(b):
                    fins.add(f[: -len(b)] + a)
                elif f.endswith(a):
                    fins.add(f[: -len(a)] + b)
    for i in inis:
        for f in fins:
            if i + f in SYLLABLE_ID:
                out.add(i + f)
    return out


def fuzzy_initials(initial: str, pairs: frozenset[str]) -> set[str]:
    """Initial groups an abbreviation may stand for under the enabled fuzzy pairs."""
    out = {initial}
    for a, b in FUZZY_INITIAL_PAIRS:
        if f"{a}/{b}" in pairs:
            if initial == a:
                out.add(b)
            elif initial == b:
                out.add(a)
    return out
