"""Labelled example utterances the semantic router learns from, in English and Chinese.

Each intent has a handful of everyday phrasings (``mixed``: Chinese and English in one message,
as Chinese-speaking shoppers often type them). Item titles are written as ``this item`` /
``这个商品`` because the router sees messages with the titles it recognised replaced the same
way (see :func:`whyrec.agent.slots.delexicalise`). ``follow_up`` is not an answer kind: it is a
fragment ("and the second?", "what about books?") that repeats the previous question with new
details. ``unclear`` marks fragments too vague to act on (answered with a clarifying question).

These examples are the router's knowledge. They are not the benchmark: the labelled utterance
set in ``bench/utterances`` (a dev part for tuning, a locked test part, and a locked mixed-language
part) was written separately — the mixed part by another author, before these mixed examples were
read by anyone writing it.
"""

from __future__ import annotations

EXAMPLES: dict[str, dict[str, tuple[str, ...]]] = {
    "recommend": {
        "en": (
            "I have a bit of money to spend, any ideas", "what should I treat myself to",
            "anything you think I'd love?", "any picks for me today", "I need a gift idea for myself",
            "what would suit me", "recommendations, please", "what's next on my shopping list",
            "help me decide what to buy", "suggest three things", "pick 2 items for me",
            "show me more recommendations", "what do you have for me in electronics",
            "something for the garden maybe?", "only toys please, what would you pick",
            "I'd like something nice and inexpensive", "high-end picks only", "recommend anything but clothing",
            "skip beauty products and suggest something", "what else do you recommend", "a dozen picks please",
            "make me 4 suggestions", "what should I buy next", "recommend something for me", "any recommendations?",
            "what would you suggest I buy", "give me some suggestions", "pick something for me",
            "what do you think I'd like", "show me my recommendations", "recommend 3 items",
            "top picks for me please", "suggest a few things", "what else could I buy", "recommend some electronics",
            "any books you would recommend", "suggest something cheap", "recommend something but no toys",
            "anything except books please", "I need ideas for my next order", "recommend me a good jacket",
            "what should I get", "surprise me with a recommendation", "what's good for me",
            "recommend something affordable", "some premium picks for me", "what could I shop for next",
            "give me 5 recommendations", "suggest something to buy", "recommend something in the home category",
            "I want something new, any ideas", "what items fit me", "what would you recommend for me to purchase",
            "shopping ideas for me?", "anything cheaper?", "cheaper ones please", "something less expensive",
        ),
        "zh": (
            "手头有点闲钱，买点啥好", "有啥推荐的", "给我推荐几样好东西", "我该入手什么", "帮我决定买什么",
            "推荐两件给我", "再推荐一些", "家居类有适合我的吗", "运动类有什么推荐", "我可能会买的东西有哪些",
            "给点建议吧", "有什么适合我买的", "您推荐什么", "推荐点不贵的", "来点高档货", "除了玩具都行，推荐一下",
            "别给我推荐衣服", "我想买点东西，推荐一下", "想给自己买点什么，有推荐吗", "我下一单该买啥",
            "能推荐一件外套吗", "我想要家居类的东西，有推荐吗", "可以推荐一款耳机吗", "今天有什么推荐", "给我前三个",
            "前十个推荐给我看看", "我接下来该买什么", "给我推荐点东西", "有什么推荐吗", "你建议我买什么",
            "给我一些建议", "帮我挑点东西", "你觉得我会喜欢什么", "看看我的推荐", "推荐三件商品", "给我推荐几个",
            "还有什么可以买的", "推荐一些电子产品", "有什么书推荐", "推荐点便宜的", "推荐点东西，不要玩具",
            "除了书以外推荐点别的", "下一单买什么", "推荐一件外套", "我该买点什么", "有什么适合我的", "推荐点实惠的",
            "推荐几个高端的", "买点什么好呢", "给我五个推荐", "推荐一下", "帮我选一件要买的", "家居类推荐一下",
            "想买点新东西，有什么推荐", "推荐给我吧", "有什么值得买的", "有没有更便宜的", "还有便宜一点的吗",
            "有没有贵一点的",
        ),
        "mixed": (
            "给我推荐 something", "有什么 good picks 给我", "推荐几个 items 吧", "please 推荐点东西",
            "suggest 几样给我", "我想买点 something nice，有推荐吗", "recommend 点便宜的", "来几个 cheap 的推荐",
            "推荐三个 electronics", "有没有 home 类的推荐", "除了 toys 推荐点别的", "next 买什么 好",
            "any 推荐 for me", "给我 5 个 recommendations", "帮我 pick 几件", "recommend 一件 jacket",
            "推荐点 premium 的东西", "想要 gift 给自己，推荐一下",
        ),
    },
    "explain": {
        "en": (
            "what put this item in my list", "why is this item a match for me", "why does the first pick suit me",
            "how did you choose the second one", "explain your top pick", "what's behind this item",
            "why this item and not something else", "why was the third one picked",
            "why did this item show up for me", "why is this item here", "how did this item end up in my list",
            "why the silver thing?", "why that red jacket", "tell me the reason for the second one",
            "give me the reason behind the first pick", "why did you recommend this item", "why the first one",
            "why is this item recommended", "explain the second one", "why number 3",
            "what is the reason for this item", "why do you think I'd like this item",
            "how did you come up with the first pick", "why are you suggesting this item", "why #2",
            "explain why you picked this item", "what makes this item a good match for me", "why this one",
            "why is that in my list", "what's the reasoning behind the top pick", "why would I want this item",
            "explain this item", "why was this item suggested to me", "tell me why this item",
            "why is this item at the top", "why this item", "how come this item is recommended",
            "what is this item's recommendation based on",
        ),
        "zh": (
            "你为什么觉得这个商品适合我", "这个商品凭什么排第一", "第一个是怎么选出来的", "说说这个商品的推荐理由",
            "这个商品为什么会推荐给我", "第二个推荐的依据", "为啥是它", "为什么选它", "解释一下为什么是这个商品",
            "这个商品怎么会出现在我的推荐里", "这个商品为什么在这", "告诉我第二个的原因", "说说推荐第一个的理由",
            "第三个是怎么回事", "为什么会有这个商品", "为什么推荐这个商品", "为什么推荐第一个",
            "这个商品为什么被推荐", "解释一下第二个", "为什么是第三个", "推荐这个商品的原因是什么",
            "你为什么觉得我会喜欢这个商品", "第一个推荐是怎么来的", "为啥给我推荐这个商品",
            "解释一下为什么选这个商品", "这个商品凭什么适合我", "为什么是这个", "为什么它在我的列表里",
            "排第一的理由是什么", "我为什么会需要这个商品", "解释这个商品", "为什么推荐它",
            "这个商品为什么排在最前面", "怎么会推荐这个商品", "这个推荐的依据是什么",
        ),
        "mixed": (
            "为什么 recommend 这个商品", "why 是这个商品", "第一个 why", "explain 一下第二个", "为啥 pick 了第三个",
            "why 推荐这个商品给我", "这个商品的 reason 是什么", "第二个的 reason",
        ),
    },
    "why_not": {
        "en": (
            "why can't I find this item among my picks", "I don't see this item in my list, why",
            "this item isn't in my list, why?", "why did this item not make the cut",
            "this item is not recommended to me, how come", "I expected this item in my picks, why is it not there",
            "why doesn't this item appear for me", "why don't you recommend this item",
            "why isn't this item recommended", "why not this item", "why is this item not in my list",
            "how come you never suggest this item", "why was this item left out",
            "what keeps this item out of my picks", "why didn't this item make my top list",
            "this item is missing from my recommendations, why", "why not recommend this item to me",
            "why isn't this item showing up", "why did you skip this item", "why is this item not suggested",
        ),
        "zh": (
            "为什么在推荐里看不到这个商品", "我的列表里怎么找不到这个商品", "这个商品怎么看不到了",
            "这个商品不在我的列表里，为什么", "为什么这个商品没有入选", "这个商品怎么没推荐给我",
            "我以为会有这个商品，为什么没有", "为啥不推荐这个商品", "这个商品为何没在推荐里", "为什么不推荐这个商品",
            "这个商品为什么没有被推荐", "为什么没有这个商品", "这个商品怎么不在我的列表里",
            "你怎么从来不推荐这个商品", "为什么把这个商品排除了", "这个商品为什么进不了推荐", "为什么没推荐这个商品",
            "这个商品为什么没出现", "为什么不给我推荐这个商品", "这个商品为什么被漏掉了", "怎么没有推荐这个商品",
        ),
        "mixed": (
            "why 没有推荐这个商品", "为什么 not 推荐这个商品", "这个商品 why 不在 list 里",
            "怎么没 recommend 这个商品", "why 这个商品没出现",
        ),
    },
    "what_if": {
        "en": (
            "forget that I viewed this item, what's my new list", "how would my list look if I bought this item",
            "if I had not clicked this item, what would change", "what if I save this item for later",
            "rerank without my view of this item", "what if I never added the second one to my basket",
            "if I order this item, how do my picks change", "move this item out of my cart and show the new list",
            "show my list without my cart add of this item", "what if I hadn't added this item to my cart",
            "what if I had not viewed this item", "what would change if I favourited this item",
            "if I bought this item what would you recommend", "suppose I never looked at this item",
            "imagine I removed this item from my cart", "what happens if I add this item to my cart",
            "take this item out of my cart, what changes", "pretend I didn't buy this item",
            "how would my list change if I saved this item", "if I put this item in my basket, what then",
            "drop my click on this item and rerank", "what if I undo adding the first one to the cart",
            "would my picks change if I bought the second one", "what if I had never favourited this item",
            "remove my view of this item, what would happen",
            "if I liked this item how would my recommendations change", "what if I buy it",
            "without this item in my cart what would you suggest", "what if I delete this item from favourites",
        ),
        "zh": (
            "要是我没买第一个呢", "要是我没收藏这个商品呢", "要是我当时没看这个商品呢",
            "忘掉我浏览过这个商品，新的列表是什么", "如果我买了这个商品，我的列表会怎样",
            "如果我没点过这个商品会有什么变化", "假如我收藏了这个商品", "不算我对这个商品的浏览，重新排一下",
            "要是我当初没把第二个加购呢", "假如我下单了这个商品，推荐会怎么变", "把这个商品从我的收藏里去掉会怎样",
            "把这个商品移出购物车会怎样", "把这个商品从收藏里删掉，推荐会变吗", "给我看看没有这个商品时的推荐",
            "如果把第一个移出购物车呢", "如果我没有把这个商品加入购物车会怎样", "如果我没看过这个商品呢",
            "要是我收藏了这个商品推荐会怎么变", "如果我买了这个商品你会推荐什么", "假设我从来没看过这个商品",
            "假如我把这个商品从购物车删掉", "如果把这个商品加入购物车会怎样", "把这个商品从购物车拿掉会有什么变化",
            "假设我没买过这个商品", "如果我收藏这个商品，列表会怎么变", "要是我把这个商品放进购物车呢",
            "去掉我对这个商品的点击再排一次", "如果我没有把第一个加入购物车", "如果我买了第二个，推荐会变吗",
            "假如我从没收藏过这个商品", "删掉我浏览这个商品的记录会怎样", "如果我买了它会怎样",
            "要是购物车里没有这个商品你会推荐什么",
        ),
        "mixed": (
            "如果我没有 add to cart 这个商品呢", "what if 我没收藏这个商品", "假如我 buy 了这个商品，推荐会怎么变",
            "要是没 view 过这个商品会怎样", "if 我把这个商品加入购物车呢", "如果没 favourite 这个商品，list 会变吗",
        ),
    },
    "important": {
        "en": (
            "which things I did drive my picks", "what matters most in my behaviour for your picks",
            "which of my past actions count the most", "what are you basing my recommendations on",
            "which of my actions weighed the most", "what in my history counts most",
            "which behaviours matter most for my picks", "what influenced my recommendations most",
            "what are my recommendations based on", "which of my clicks matter", "what drives my recommendations",
            "which things I did had the most weight", "what shaped my picks the most",
            "what of my activity influences you most", "which of my past actions have the biggest effect on my list",
        ),
        "zh": (
            "我做过的哪些事决定了给我的推荐", "你是根据我的哪些行为推荐的", "我过去的哪些操作最关键",
            "推荐主要参考了我的什么行为", "我的哪些行为分量最重", "我的历史里什么最关键",
            "哪些行为对我的推荐影响最大", "我的推荐主要基于什么", "我的哪些点击最重要", "是什么驱动了我的推荐",
            "我做的哪些事权重最大", "什么最影响我的推荐", "我的哪些操作对推荐影响最大", "哪个行为最关键",
        ),
        "mixed": (
            "我哪些 actions 最重要", "which 行为影响最大", "最 important 的行为是什么",
            "我的 behaviours 里哪个最关键",
        ),
    },
    "effects": {
        "en": (
            "do repeat visits lead to purchases", "for loyal shoppers does favouriting matter more",
            "are shoppers who favourite an item more likely to buy it",
            "do the effects of behaviours vary between brands", "does a second look make a sale more likely",
            "how much more do carters buy", "is favouriting causal for buying",
            "effect of adding to basket on sales for cheap products", "do the effects depend on the price",
            "does activity level change the effect", "how much does adding to cart raise the chance of purchase",
            "does favouriting make people buy more", "what is the effect of viewing again on buying",
            "do carts cause purchases", "is there a causal effect of favourites on purchases",
            "does looking at an item twice make buying more likely", "effect of behaviours on purchase",
            "how do behaviours affect buying", "what makes people buy",
            "is the effect of cart different for cheap and expensive items", "effects by category",
            "does favouriting work better for some brands", "effect of cart by price band",
            "do active shoppers respond differently", "does adding to the basket increase sales",
            "causal impact of saving to wishlist", "does the cart really lead to purchases",
            "how strong is the link between favourites and buying", "what drives purchases in general",
            "does viewing something again matter for buying", "is carting worth anything for cheap items",
        ),
        "zh": (
            "对常来的顾客收藏更重要吗", "反复看会导致购买吗", "收藏商品的人更可能购买吗", "各个品牌之间效果有差别吗",
            "再看一眼会让人更可能下单吗", "加购的人会多买多少", "收藏对购买是因果关系吗", "便宜商品加购对销量的影响",
            "效果和价格有关吗", "活跃程度会改变效果吗", "加购对购买率的影响有多大", "加购能把购买概率提高多少",
            "收藏会让人买得更多吗", "再次浏览对购买有什么影响", "加购会导致购买吗", "收藏对购买有因果效应吗",
            "看两次会更可能买吗", "行为对购买的影响", "各种行为怎样影响购买", "什么让人购买",
            "加购对便宜货和贵价货的作用一样吗", "按类别看效果", "收藏对某些品牌更有效吗", "按价格段看加购的效果",
            "活跃顾客的反应不一样吗", "加入购物车会增加销量吗", "收藏夹的因果影响", "加购是真的能带来购买吗",
            "收藏和购买之间的关系有多强", "一般来说什么促进购买", "便宜的商品加购有用吗",
        ),
        "mixed": (
            "加购对 purchase 有多大 effect", "favourite 会让人更想买吗", "收藏 really 提高购买吗",
            "cart 真的 matter 吗", "多看几次 helps buying 吗", "便宜的商品 effect 有没有不同",
            "add to cart 会不会 increase 购买概率", "行为对 buying 的因果 effect",
        ),
    },
    "history": {
        "en": (
            "have I viewed any lamps", "all the things I've bought so far", "what did I favourite",
            "what's in my basket right now", "show the things I viewed this week", "did I ever order a kettle",
            "list what I put in my cart", "which items did I save", "what have I been looking at lately",
            "is there a lamp in my history", "any backpacks in my records", "what did I add to my cart",
            "what have I bought", "show my purchase history", "what have I looked at", "what's in my basket",
            "show me my favourites", "my recent activity", "what did I view yesterday", "list what I saved",
            "have I bought any headphones", "what did I click on", "show my history", "which scarves have I viewed",
            "what did I buy last month", "search my history for lamps", "what items did I put in the cart recently",
            "have I ever viewed a tent", "my orders", "things I favourited", "what have I been browsing",
        ),
        "zh": (
            "我浏览过台灯吗", "我到目前为止买过的东西", "我收藏了什么", "我现在购物车里有什么", "这周我看过的东西",
            "我有没有买过水壶", "列出我加购的东西", "我保存了哪些商品", "我最近在看什么", "我之前买了些啥",
            "我的记录里有台灯吗", "我的历史里有没有背包", "我有没有看过键盘", "我加购过什么", "我买过什么",
            "看看我的购买记录", "我浏览过什么", "我购物车里有啥", "看看我收藏的东西", "我最近的活动",
            "我昨天看了什么", "列出我收藏的", "我买过耳机吗", "我点过什么", "显示我的历史", "我看过哪些围巾",
            "我上个月买了什么", "在我的历史里找台灯", "我最近加购了哪些", "我看过帐篷吗", "我的订单", "我收藏的商品",
            "我一直在逛什么",
        ),
        "mixed": (
            "我之前 bought 什么", "show 我的浏览记录", "我 cart 里加过什么", "我 favourite 过哪些东西",
            "上周我 view 了什么", "我的 history 给我看看", "我买过 scarf 吗",
        ),
    },
    "last_time": {
        "en": (
            "when did I put this item in my cart", "how long since my last order", "when did I last save an item",
            "what date did I last look at this item", "when was my most recent purchase",
            "when was the last time I ordered something", "when did I last check out", "when did I buy this item",
            "when did I last view anything", "what day did I last add to cart", "when did I last favourite something",
            "how long ago did I buy this item", "date of my last order", "when did I look at this item",
            "when was the last time I bought anything", "when did I purchase this item",
        ),
        "zh": (
            "我什么时候把这个商品加入购物车的", "我上一次下单距今多久", "我最后一次收藏是哪天",
            "我上次看这个商品是什么时候", "我最近一次购买是几号", "我上回购物是哪一天", "我最后一次购买在哪天",
            "我什么时候买的这个商品", "我上次浏览是哪天", "我最后一次加购是什么时候", "我上次收藏东西是哪天",
            "这个商品我是多久以前买的", "我最近一次下单的日期", "我什么时候看过这个商品", "我最后一次买东西是哪天",
        ),
        "mixed": (
            "我 last time 买东西是什么时候", "上次 add to cart 是哪天", "我什么时候最后 view 过这个商品",
            "最近一次 favourite 是 when",
        ),
    },
    "search": {
        "en": (
            "you got any jackets", "I'm hunting for a lamp", "do you stock lamps", "search jackets",
            "find some vases", "I want to see kettles", "anything like a speaker in your catalog",
            "show me cookbooks", "I'm searching for a good novel", "need some face cream", "I want to find a lamp",
            "show me some kettles", "looking for a tent", "can I see your headphones", "I need a backpack",
            "jackets?", "do you have anything like a vase", "what boots do you have", "find a wool scarf",
            "search for headphones", "do you have tents", "look for a cookbook", "I'm looking for a lamp",
            "show me kettles", "any yoga mats?", "do you sell boots", "search the catalog for a backpack",
            "find me a keyboard", "are there any planters", "look up bike helmets",
            "show me some perfumes in the shop", "is there a vase in the catalog", "do you carry face cream",
            "find something like a blanket",
        ),
        "zh": (
            "有没有夹克", "我在找登山包", "你们有没有台灯", "搜一下夹克", "找几个花瓶", "我想看看水壶",
            "目录里有音箱吗", "给我看看食谱", "有没有卖毯子的", "我想找台灯", "有没有水壶", "我需要一个背包",
            "给我看看耳机", "你们有什么靴子", "外套？", "有卖花瓶的吗", "我想看看毯子", "找一条羊毛围巾", "搜索耳机",
            "有帐篷吗", "找一本食谱", "我在找台灯", "给我看看水壶", "有瑜伽垫吗", "你们卖靴子吗", "在目录里搜背包",
            "帮我找个键盘", "有没有花盆", "查一下自行车头盔", "店里有香水吗", "目录里有花瓶吗", "有面霜卖吗",
            "找找毯子",
        ),
        "mixed": (
            "找一下 headphones", "search 围巾", "有没有 yoga mat", "帮我 find 一个 lamp", "catalog 里有 backpack 吗",
        ),
    },
    "popular": {
        "en": (
            "what is everybody buying nowadays", "what are the hot items", "which items sell the most",
            "what is most purchased", "most popular products", "what are people buying the most",
            "best sellers in the shop", "what do most shoppers buy", "what's popular", "bestsellers please",
            "what would an average customer buy", "what sells best", "what is everyone buying", "top selling items",
            "what do typical customers get", "what's hot in the shop", "what do people usually buy",
            "what do other users buy", "what are other shoppers buying these days", "what do other customers like",
            "what have other users been buying lately",
        ),
        "zh": (
            "这阵子大家都在买什么", "热门商品有哪些", "哪些商品卖得最多", "什么买的人最多", "最受欢迎的是什么",
            "大家买得最多的是哪些", "店里的爆款", "大家都买什么", "什么最流行", "畅销榜", "普通顾客会买什么",
            "什么卖得最好", "大家都在买什么", "热销商品", "一般人会买什么", "店里什么最火", "人们通常买什么",
            "其他用户都买些什么", "别的顾客一般买什么", "其他人最近在买什么", "别的用户喜欢买什么",
        ),
        "mixed": (
            "大家都买什么 popular 的", "最 popular 的商品", "what's 热门", "best sellers 有哪些",
        ),
    },
    "other_user": {
        "en": (
            "show me customer 12's favourites", "what has user 3 added to the cart",
            "another person's purchase history please", "what did my friend buy", "show me what my husband ordered",
            "what is my colleague looking at", "show me user 42's history", "what did user 7 buy",
            "what is in another user's cart", "show me someone else's purchases", "what has customer 88 viewed",
            "what did my wife buy here", "tell me what other people have in their carts",
            "give me the history of u12", "list all purchases of user 5", "what did that other shopper buy",
        ),
        "zh": (
            "给我看顾客 12 的收藏", "用户 3 加购了什么", "把别人的购买记录给我看看", "我朋友买了什么",
            "我老公最近买了啥", "我同事在看什么", "给我看用户 42 的历史", "用户 7 买了什么",
            "另一个用户的购物车里有什么", "给我看别人的购买记录", "顾客 88 看过什么", "我老婆在这买了什么",
            "告诉我其他人购物车里有什么", "给我 u12 的历史", "列出用户 5 的所有购买", "那个顾客买了什么",
        ),
        "mixed": (
            "别人 bought 了什么", "show 我 user 12 的 cart", "我 friend 买了啥",
        ),
    },
    "greeting": {
        "en": (
            "hello there", "hi", "hey", "good evening", "hi whyrec", "hello, anyone there?", "howdy",
            "good afternoon", "hey there, how's it going",
        ),
        "zh": (
            "您好", "嗨", "哈喽", "晚上好", "你好 whyrec", "在吗", "下午好", "嘿", "你好啊",
        ),
        "mixed": (
            "hi 你好", "hello 呀", "嗨 there",
        ),
    },
    "thanks": {
        "en": (
            "grateful", "I appreciate that", "thank you", "thanks a lot", "thx", "much appreciated",
            "thanks, that helps", "great, thanks", "perfect, thank you", "ty", "awesome thanks",
        ),
        "zh": (
            "感激", "感恩", "谢谢帮忙", "感谢你", "谢谢你", "多谢了", "感谢", "太感谢了", "好的谢谢", "谢啦",
            "辛苦了，谢谢",
        ),
        "mixed": (
            "thanks 啦", "谢谢 so much", "thank you 哦",
        ),
    },
    "goodbye": {
        "en": (
            "bye", "see you later", "goodbye for now", "that's all for today", "I'm done, bye", "see ya",
            "talk to you later", "ok that's it, thanks bye",
        ),
        "zh": (
            "再会", "拜拜", "回头见", "今天就到这", "我先走了", "下次再聊", "好了，再见",
        ),
    },
    "help": {
        "en": (
            "how does this shopping assistant work", "what can I do here", "how can you help me",
            "what are you capable of", "how does this work", "what questions can I ask", "help me",
            "what are your features", "how do I use you", "what are you for", "what can I ask you about",
            "show me what you can do", "instructions please",
        ),
        "zh": (
            "这个助手怎么用", "我在这里能做什么", "你能怎么帮我", "你能干什么", "这个要怎么使用", "我能问些什么",
            "帮帮我", "你有哪些功能", "怎么使用你", "你是做什么的", "我可以问你什么", "使用说明", "你会什么",
        ),
        "mixed": (
            "你能 do 什么", "how 用这个", "help 一下，你会什么",
        ),
    },
    "out_of_scope": {
        "en": (
            "recommend a good hotel in Paris", "suggest a restaurant for tonight", "recommend a book club near me",
            "which car should I buy", "what's a good soup recipe", "who wrote Hamlet", "how far is the moon",
            "can you do my taxes", "what time is it", "play a song for me", "how do I repair my bike",
            "who is the prime minister", "what is the capital of Spain", "how old is the universe",
            "write a poem about cats", "how do I cook rice", "is it going to rain", "tell me the latest news",
            "what's the weather today", "tell me a story", "who won the game last night", "write some code for me",
            "what's 2 plus 2", "translate this sentence to French", "book a table for two", "what's the news",
            "how tall is Mount Everest", "give me a recipe for pancakes", "can you play music",
            "what's the meaning of life", "help me with my homework", "recommend a movie to watch tonight",
            "what is the stock price of Apple",
        ),
        "zh": (
            "推荐一部好电影", "推荐个附近的餐馆", "推荐一家酒店", "我该买哪辆车", "有什么好喝的汤做法",
            "哈姆雷特是谁写的", "月球离地球多远", "帮我报税", "现在几点了", "唱首歌给我听", "我的自行车坏了怎么修",
            "英国首相是谁", "西班牙的首都是哪里", "宇宙有多大年纪", "写一首关于猫的诗", "米饭怎么煮", "明天会下雨吗",
            "最近有什么新闻", "今天天气怎么样", "讲个故事", "昨晚比赛谁赢了", "帮我写段代码", "二加二等于几",
            "把这句话翻译成法语", "帮我订两个人的位子", "有什么新闻", "珠穆朗玛峰有多高", "给我一个煎饼的做法",
            "放首音乐", "人生的意义是什么", "帮我做作业", "今晚看什么电影好", "苹果公司的股价是多少",
        ),
        "mixed": (
            "tell me 一个笑话", "现在几点 in Tokyo",
        ),
    },
    "follow_up": {
        "en": (
            "make it 4", "make it a dozen", "what about beauty", "and toys?", "and favourites?",
            "how about the fifth", "and the second one?", "and the third one?", "same for the first one",
            "and for books?", "what about electronics", "how about favourites", "and for viewing?", "more please",
            "show me more", "in Chinese please", "same again in English", "the same but for the cart",
            "and the next one?", "what about 10 of them", "and the last one", "same question for the second",
            "how about toys then", "ok and what about cheap ones", "now in Chinese", "again but only 3",
        ),
        "zh": (
            "购买呢", "点击呢", "那收藏夹呢", "运动用品呢", "美妆呢", "那加购呢", "浏览呢", "那第五个呢", "换成五个",
            "还有第二个呢", "还有第三个", "第一个也一样", "书籍呢", "电子产品呢", "换成收藏呢", "那浏览呢",
            "再来一些", "多给我看几个", "中文回答吧", "用英文再说一次", "加购也一样吗", "下一个呢", "换成十个",
            "最后一个呢", "第二个也问一下", "那玩具呢", "便宜的呢", "用英语说", "只要三个",
        ),
    },
    "unclear": {
        "en": (
            "umm", "ok", "the red one", "that thing", "and what about that", "basket", "stuff", "and then?", "so",
            "the one from before", "?", "this", "well",
        ),
        "zh": (
            "嗯嗯", "好吧", "红色那个", "那个东西", "它呢", "收藏夹", "东西", "然后", "所以呢", "之前那个", "？",
            "这个", "呃",
        ),
    },
}

#: Answer kinds the router can return (``follow_up`` and ``unclear`` are resolved before answering).
INTENTS: tuple[str, ...] = tuple(k for k in EXAMPLES if k not in ("follow_up", "unclear"))

#: Sentences that frame an answer without stating a fact: a model's lead sentence must read like
#: one of these (or be supported by the results) to be kept. Item titles are read as "the item".
FRAMING: dict[str, tuple[str, ...]] = {
    "en": (
        "Here are my picks for you.", "Here is what I found.", "Here's why I recommend it.",
        "Happy to help with that!", "Let me explain.", "Good question!", "Sure, here you go.",
        "Here is what would change.", "Here is how that works.", "I hope this helps with your shopping.",
        "Let's take a look.", "Great choice to ask about.", "Here are a few ideas you might like.",
        "Here's a quick overview.", "Thanks for asking!", "My top pick for you is the item.", "Try the item first.",
        "I'd start with the item.", "Here is what the data says.", "Here are the results.",
    ),
    "zh": (
        "这是为你挑选的推荐。", "这是我找到的结果。", "下面是我推荐它的原因。", "很高兴为你解答！", "我来解释一下。",
        "好问题！", "好的，请看。", "这是会发生的变化。", "下面是具体情况。", "希望对你购物有帮助。",
        "我们来看一看。", "这里有几个你可能喜欢的选择。", "简单概括如下。", "谢谢你的提问！",
        "我最推荐的是这件商品。", "可以先看看这件商品。", "数据是这样说的。", "结果如下。",
    ),
}
