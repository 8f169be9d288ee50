"""Small Chinese children's stories from templates (seeded), for the Chinese-LLaMA-Alpaca-2-style demo run: the base
stories260K knows only English, so text in Chinese after training is what the resized vocabulary + adapter added."""
import random

NAMES = ["小美", "小红", "小兰", "小芳"]
COLORS = ["红色", "蓝色", "黄色", "绿色"]
THINGS = ["风筝", "皮球", "小船", "布娃娃"]
PLACES = ["公园", "河边", "山上", "花园"]


def _story(rng):
    name, color, thing, place = rng.choice(NAMES), rng.choice(COLORS), rng.choice(THINGS), rng.choice(PLACES)
    event = rng.choice([
        f"风很大，{thing}飞走了。{name}很难过，妈妈帮她找回了{thing}",
        f"下雨了。{name}拿着{thing}跑回了家",
        f"她的朋友来了。她们一起玩{thing}",
    ])
    end = rng.choice(["每天都很开心", "她们是最好的朋友", "她很喜欢这一天"])
    return (f"从前，有一个小女孩叫{name}。她有一个{color}的{thing}。她每天都在{place}玩{thing}。"
            f"有一天，{event}。从那以后，{end}。")


def make_stories(n, seed):
    rng = random.Random(seed)
    return [_story(rng) for _ in range(n)]
